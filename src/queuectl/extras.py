"""Optional parts of queuectl and the pip extra that installs each.

``pip install queuectl`` is the SQLite store, the CLI and the menu. Whatever needs more
calls :func:`require` before importing it, so a missing extra is one sentence naming the
install command instead of an ImportError.
"""

from __future__ import annotations

import importlib

from .errors import MissingExtra

#: extra -> the modules whose imports prove it is installed
EXTRAS = {
    "postgres": ("psycopg",),  # PostgreSQL stores
    "web": ("starlette", "jinja2", "uvicorn"),  # `queuectl web`, the dashboard
}


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` unless ``extra`` is installed and importable."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtra(
                f"{feature} needs the {extra!r} extra, which is not installed ({exc}); "
                f"install it with: pip install 'queuectl[{extra}]'"
            ) from exc
