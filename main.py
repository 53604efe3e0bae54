"""`python main.py ...` runs queuectl from a checkout (the spelling one of the seed READMEs
uses). Prefer the installed `queuectl` command; this only saves activating the venv."""

import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "src"))
    from queuectl.cli import main

    main()
