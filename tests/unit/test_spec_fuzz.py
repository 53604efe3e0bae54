"""Fuzzing the job-spec parser: any input gives valid jobs or a ValidationError, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from queuectl.config import Config
from queuectl.errors import ValidationError
from queuectl.spec import FIELDS, build, build_batch, parse_batch, parse_spec_argument

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Mostly known field names, so that the checks themselves get exercised, not only the
# unknown-field path.
field_names = st.sampled_from([*FIELDS, "timeout_s"]) | st.text(max_size=12)
specs = st.dictionaries(field_names, json_values, max_size=6)


def valid_or_refused(call: Any) -> None:
    try:
        jobs = call()
    except ValidationError as exc:
        assert exc.message and "\n" not in exc.message
        return
    for job in jobs if isinstance(jobs, list) else [jobs]:
        assert job.command.strip() and len(job.command.encode()) <= 128 * 1024
        assert job.max_retries >= 0 and job.backoff_base >= 1
        assert job.timeout is None or job.timeout > 0


@settings(max_examples=400, deadline=None)
@given(spec=specs)
def test_build_never_crashes(spec: dict[str, Any]) -> None:
    valid_or_refused(lambda: build(spec, Config(), "/srv", 1_800_000_000.0))


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_any_json_argument(value: Any) -> None:
    text = json.dumps(value)
    valid_or_refused(lambda: build(parse_spec_argument(text), Config(), "/srv", 1_800_000_000.0))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_as_a_file(text: str) -> None:
    valid_or_refused(lambda: build_batch(parse_batch(text), Config(), "/srv", 1_800_000_000.0))


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(specs, min_size=1, max_size=5))
def test_json_lines_batches(lines: list[dict[str, Any]]) -> None:
    text = "\n".join(json.dumps(line) for line in lines)
    valid_or_refused(lambda: build_batch(parse_batch(text), Config(), "/srv", 1_800_000_000.0))
