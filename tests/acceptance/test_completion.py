"""`queuectl completion`: the scripts load in their shell and complete real commands.

Bash is driven for real: the script is sourced in a `bash` subprocess, `complete -p` shows
it registered, and the completion function is called the way readline calls it on TAB.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from ..helpers import QUEUECTL, Cli

BASH = shutil.which("bash")


def shell_out(*argv: str) -> str:
    """Run a shell command line to completion; its stdout (it must succeed)."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def bash_complete(*words: str) -> list[str]:
    """What bash offers for ``queuectl WORDS<TAB>`` (the last word is the one completed)."""
    line = " ".join(["queuectl", *words])
    script = f"""
source <({shlex.quote(QUEUECTL)} completion bash) || exit 3
complete -p queuectl >&2 || exit 4
COMP_WORDS=(queuectl {" ".join(shlex.quote(w) for w in words)})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
COMPREPLY=()
"$(complete -p queuectl | sed -E 's/.* -F ([^ ]+) .*/\\1/')" queuectl "${{COMP_WORDS[COMP_CWORD]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(
        [BASH or "bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("complete ") and proc.stderr.rstrip().endswith(" queuectl")
    return sorted(filter(None, proc.stdout.splitlines()))


pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def test_completes_a_command_from_its_prefix() -> None:
    assert bash_complete("dl") == ["dlq"]
    assert bash_complete("wo") == ["worker"]


def test_completes_every_top_level_command() -> None:
    offered = bash_complete("")
    for command in ("enqueue", "list", "show", "logs", "worker", "status", "dlq", "config"):
        assert command in offered
    assert "completion" in offered


def test_completes_subcommands_and_their_options() -> None:
    assert bash_complete("dlq", "") == ["clear", "list", "retry"]
    assert bash_complete("worker", "st") == ["start", "stop"]
    assert bash_complete("enqueue", "--max") == ["--max-retries"]
    assert "--count" in bash_complete("worker", "start", "--")
    assert bash_complete("dlq", "clear", "--y") == ["--yes"]


def test_completes_option_values() -> None:
    assert bash_complete("list", "--state", "") == [
        "completed",
        "dead",
        "failed",
        "pending",
        "processing",
    ]
    assert bash_complete("list", "--state", "p") == ["pending", "processing"]
    assert bash_complete("completion", "") == ["bash", "fish", "zsh"]


def test_path_options_complete_file_names(tmp_path: Path) -> None:
    script = f"""
cd {shlex.quote(str(tmp_path))} && touch jobs.jsonl other.txt
source <({shlex.quote(QUEUECTL)} completion bash)
COMP_WORDS=(queuectl enqueue --file jo); COMP_CWORD=3; COMPREPLY=()
_shtab_queuectl queuectl jo
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    assert shell_out(BASH or "bash", "--norc", "-c", script).split() == ["jobs.jsonl"]


def test_completion_needs_no_store(tmp_path: Path) -> None:
    cli = Cli.fresh(str(tmp_path / "never" / "created.db"), tmp_path)
    markers = {"bash": "complete ", "zsh": "#compdef queuectl", "fish": "complete -c queuectl"}
    for shell, marker in markers.items():
        result = cli.ok("completion", shell)
        assert marker in result.out
        assert result.err == ""
    assert not (tmp_path / "never").exists()


def _shell(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed")
    return exe


def _script(shell: str, tmp_path: Path) -> Path:
    path = tmp_path / f"queuectl.{shell}"
    out = subprocess.run([QUEUECTL, "completion", shell], capture_output=True, check=True)
    path.write_bytes(out.stdout)
    return path


def test_fish_completes_commands_and_options(tmp_path: Path) -> None:
    fish = _shell("fish")
    script = _script("fish", tmp_path)

    def offered(line: str) -> list[str]:
        out = shell_out(
            fish, "--no-config", "-c", f"source {script}; complete -C {shlex.quote(line)}"
        )
        return sorted(row.split("\t")[0] for row in out.splitlines() if row)

    assert offered("queuectl dl") == ["dlq"]
    assert offered("queuectl dlq ") == ["clear", "list", "retry"]
    assert offered("queuectl enqueue --max") == ["--max-retries"]
    assert offered("queuectl list --state p") == ["pending", "processing"]


def test_zsh_script_parses_and_registers(tmp_path: Path) -> None:
    zsh = _shell("zsh")
    script = _script("zsh", tmp_path)
    shell_out(zsh, "-n", str(script))
    # After compinit, `eval "$(queuectl completion zsh)"` (the README's .zshrc line) wires
    # `queuectl` to the script's completion function.
    load = f'autoload -U compinit && compinit -u -d {tmp_path}/zcompdump && eval "$(<{script})"'
    assert shell_out(zsh, "-f", "-c", f"{load} && print -r -- $_comps[queuectl]") == (
        "_shtab_queuectl\n"
    )
