"""No SQL is built from user text: every statement a store runs is a named query, a literal,
or one of a few formatted statements whose variable parts come from fixed sets."""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "src" / "queuectl" / "store"

# Formatted statements allowed in the stores, with where their variable part comes from.
ALLOWED_FSTRINGS = {
    "sqlite.py": {
        "PRAGMA synchronous={'FULL' if durable else 'NORMAL'}",  # one of two literals
        "PRAGMA user_version={number:d}",  # an int from a migration's file name
        "PRAGMA application_id={APPLICATION_ID:d}",  # a constant
    },
    "postgres.py": set(),
}


def executed_sql(path: Path) -> list[ast.expr]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "executemany")
            and node.args
        ):
            calls.append(node.args[0])
    return calls


def test_statements_come_from_fixed_text() -> None:
    for name, allowed in ALLOWED_FSTRINGS.items():
        source = (STORE / name).read_text()
        for arg in executed_sql(STORE / name):
            text = ast.get_source_segment(source, arg) or ""
            if isinstance(arg, ast.JoinedStr):
                assert text[2:-1] in allowed, f"{name}: formatted SQL {text}"
            elif isinstance(arg, ast.BinOp):
                raise AssertionError(f"{name}: SQL built by concatenation: {text}")
            elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute):
                # str.format / % on SQL would splice values in; only psycopg's sql module
                # (identifiers, quoted by the driver) may compose.
                assert arg.func.attr not in ("format", "replace", "join"), f"{name}: {text}"
