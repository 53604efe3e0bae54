"""`enqueue`, `list`, `show` and `logs`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from ..errors import NotFound, UsageError, ValidationError
from ..spec import parse_spec_argument
from ..timeutil import check_time, now, parse_duration, parse_iso, to_iso
from .context import Context, add_json, non_negative_int, positive_int

#: enqueue's options: (spellings, add_argument keywords). ``command_words_last`` reads it too.
ENQUEUE_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--file", "-f"), dict(metavar="F", help="JSON object, array or JSON Lines; - is stdin")),
    (("--id",), dict(help="job id (default: a random UUID)")),
    (("--max-retries",), dict(metavar="N", help="the most attempts the job gets (0 = one)")),
    (
        ("--timeout",),
        dict(metavar="DURATION", help="kill it after 30, 2.5, 90s, 5m, 2h or 1d; 0 or none: never"),
    ),
    (("--priority",), dict(metavar="N", help="higher runs first (default 0)")),
    (("--run-at",), dict(metavar="TIME", help="ISO 8601 time, e.g. 2030-01-31T09:00:00Z")),
    (("--delay",), dict(metavar="DURATION", help="run after 30, 2.5, 90s, 5m, 2h or 1d")),
    (("--queue", "-q"), dict(metavar="NAME", help="queue name (default: default)")),
    (("--backoff-base",), dict(metavar="B", help="retry delay is B ** attempt seconds")),
    (("--cwd",), dict(metavar="DIR", help="where the command runs (default: here)")),
    (
        ("--env", "-e"),
        dict(action="append", metavar="KEY=VALUE", help="environment (repeatable)"),
    ),
    (("--json",), dict(action="store_true", help="print the new job (or jobs) as JSON")),
]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "enqueue",
        help="add a job: a shell command, a JSON spec, or --file",
        description="Enqueue a shell command (several words are joined into one), a JSON job "
        "spec (an argument starting with '{'), or the jobs of a file. Options may come before "
        "or after the command; after its first word, short options such as -la belong to the "
        "command, and everything after -- does.",
    )
    p.add_argument(
        "spec",
        nargs="*",
        metavar="COMMAND",
        help="the shell command (run as /bin/sh -c COMMAND), or a JSON job spec",
    )
    for flags, options in ENQUEUE_OPTIONS:
        p.add_argument(*flags, **options)
    p.set_defaults(handler=enqueue)

    p = sub.add_parser("list", help="list jobs, newest first")
    p.add_argument("--state", "-s", help="pending, processing, completed, failed or dead")
    p.add_argument("--queue", "-q", help="only this queue")
    p.add_argument(
        "--limit", "-n", type=non_negative_int, default=100, help="at most N (0: all; default 100)"
    )
    p.add_argument(
        "--ready",
        "--pending-ready-only",
        action="store_true",
        help="only jobs a worker could claim now",
    )
    add_json(p)
    p.set_defaults(handler=list_jobs)

    p = sub.add_parser("show", help="one job with its attempt history")
    p.add_argument("id", help="the job's id (as `enqueue` printed it, or --id)")
    p.add_argument(
        "--show-env", action="store_true", help="print the values of the job's env, not just names"
    )
    add_json(p)
    p.set_defaults(handler=show)

    p = sub.add_parser("logs", help="the captured stdout/stderr of an attempt")
    p.add_argument("id", help="the job's id")
    p.add_argument("--attempt", "-a", type=positive_int, help="attempt number (default: latest)")
    p.add_argument(
        "--follow", "-f", "-F", action="store_true", help="stream until the attempt ends"
    )
    add_json(p)
    p.set_defaults(handler=logs)


# --- enqueue -------------------------------------------------------------------------------

_OPTION_FIELDS = {
    "id": ("id", str),
    "max_retries": ("max_retries", int),
    "priority": ("priority", int),
    "queue": ("queue", str),
    "backoff_base": ("backoff_base", float),
    "cwd": ("cwd", str),
}


def _options_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The job fields given as options, typed; range checks happen in the spec builder."""
    fields: dict[str, Any] = {}
    for attr, (name, kind) in _OPTION_FIELDS.items():
        raw = getattr(args, attr)
        if raw is None:
            continue
        flag = "--" + attr.replace("_", "-")
        if kind is str:
            fields[name] = raw
            continue
        try:
            number = float(raw)
        except ValueError:
            raise ValidationError(f"{flag}: {raw!r} is not a number") from None
        if kind is int:
            if not number.is_integer() or not raw.strip().lstrip("+-").isdigit():
                raise ValidationError(f"{flag}: {raw!r} is not a whole number")
            fields[name] = int(raw)
        else:
            fields[name] = number
    if args.timeout is not None:
        fields["timeout"] = _timeout(args.timeout)
    if args.run_at is not None and args.delay is not None:
        raise ValidationError("--run-at and --delay: give one or the other")
    if args.run_at is not None:
        try:
            parse_iso(args.run_at)
        except ValueError as exc:
            raise ValidationError(f"--run-at: {exc}") from None
        fields["run_at"] = args.run_at
    if args.delay is not None:
        try:
            run_at = check_time(now() + parse_duration(args.delay), f"{args.delay} from now")
        except ValueError as exc:
            raise ValidationError(f"--delay: {exc}") from None
        fields["run_at"] = to_iso(run_at)
    if args.env:
        env: dict[str, str] = {}
        for item in args.env:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValidationError(f"--env: expected KEY=VALUE, got {item!r}")
            env[key] = value
        fields["env"] = env
    return fields


def _timeout(raw: str) -> float | None:
    """``--timeout``: the ``--delay`` forms; ``0`` or ``none`` means no timeout (as the
    config's ``job_timeout`` 0 does), also when the config sets one."""
    if raw.strip().lower() == "none":
        return None
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise ValidationError(f"--timeout: {exc}, or 0/none for no timeout") from None
    return seconds or None


def command_words_last(argv: list[str]) -> list[str]:
    """Rewrite ``queuectl [global options] enqueue ...`` so that argparse sees the command's
    words as positionals: ``enqueue ls -la`` and ``enqueue grep -q x f --priority 5``.

    Before the command's first word every option is enqueue's; after it, only enqueue's long
    options are (so ``enqueue "echo hi" --max-retries 3`` keeps working), and any other word
    belongs to the command; after ``--`` every word does. A word that is nearly one of
    enqueue's long options is refused rather than silently run as part of the command.
    """
    start = _command_index(argv)
    if start is None or argv[start] != "enqueue":
        return argv
    takes_value = {
        flag: options.get("action") not in ("store_true", "store_false")
        for flags, options in ENQUEUE_OPTIONS
        for flag in flags
    }
    longs = [flag for flag in takes_value if flag.startswith("--")]
    head, words = list(argv[: start + 1]), []
    rest = argv[start + 1 :]
    i = 0
    while i < len(rest):
        token = rest[i]
        i += 1
        if token == "--":
            words.extend(rest[i:])
            break
        name = token.split("=", 1)[0]
        if words and not token.startswith("--"):
            words.append(token)
            continue
        if not token.startswith("-") or token == "-":
            words.append(token)
            continue
        flag = name if name in takes_value else token[:2] if not token.startswith("--") else ""
        if flag not in takes_value:
            if words:
                _refuse_near_miss(name, longs)
                words.append(token)
            else:
                head.append(token)  # argparse reports it, pointing to `enqueue --help`
            continue
        head.append(token)
        attached = "=" in token or (not token.startswith("--") and len(token) > 2)
        if takes_value[flag] and not attached and i < len(rest):
            head.append(rest[i])
            i += 1
    return [*head, "--", *words] if words else head


def _command_index(argv: list[str]) -> int | None:
    """Where the subcommand is, past the global options (``--db`` takes a value)."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--db":
            i += 2
        elif token.startswith("-"):
            i += 1
        else:
            return i
    return None


def _refuse_near_miss(word: str, options: list[str]) -> None:
    import difflib

    close = difflib.get_close_matches(word, options, n=1, cutoff=0.8)
    if close:
        raise UsageError(
            f"{word}: not an option of enqueue (did you mean {close[0]}?); to pass it to the"
            f" command, put the command after --: queuectl enqueue [options] -- COMMAND"
        )


def _read_file(name: str) -> str:
    try:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as f:
                data = f.read()
        # -sig: a byte-order mark, as some Windows editors write, is not part of the JSON.
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ValidationError(f"--file: {name} does not exist") from None
    except IsADirectoryError:
        raise ValidationError(f"--file: {name} is a directory") from None
    except UnicodeDecodeError:
        raise ValidationError(f"--file: {name} is not UTF-8 text") from None
    except OSError as exc:
        raise ValidationError(f"--file: cannot read {name}: {exc.strerror}") from None


def enqueue(args: argparse.Namespace, ctx: Context) -> int:
    options = _options_spec(args)
    spec = " ".join(args.spec) if args.spec else None
    if args.file is not None:
        if spec is not None:
            raise UsageError("give a COMMAND or --file, not both")
        if options:
            raise UsageError("job options cannot be combined with --file; put them in the file")
        text = _read_file(args.file)
        jobs = ctx.queue(create=True).enqueue_text(text)
        if ctx.json:
            ctx.emit_json([j.to_dict() for j in jobs])
        elif len(jobs) > 1 and sys.stdout.isatty():
            # 100,000 ids are no use on a screen; scripts that pipe the output still get them.
            ctx.say(
                f"enqueued {len(jobs)} jobs, {jobs[0].id} to {jobs[-1].id}; see them with"
                f" `queuectl list --limit {len(jobs)}` (piped, this prints one id per line)"
            )
        else:
            sys.stdout.write("".join(j.id + "\n" for j in jobs))
        return 0
    if spec is None:
        raise UsageError("give the command to run, a JSON job spec, or --file")
    if spec.lstrip().startswith("{"):
        fields = dict(parse_spec_argument(spec))
        for name, value in options.items():
            if name in fields:
                raise ValidationError(f"{name}: given both in the JSON spec and as an option")
            fields[name] = value
    else:
        fields = {"command": spec, **options}
    job = ctx.queue(create=True).enqueue_many([fields])[0]
    if ctx.json:
        ctx.emit_json(job.to_dict())
    else:
        ctx.say(job.id)
    return 0


# --- list / show / logs --------------------------------------------------------------------


def list_jobs(args: argparse.Namespace, ctx: Context) -> int:
    from ..api import parse_state

    state = parse_state(args.state) if args.state is not None else None
    if args.queue is not None:
        from ..spec import check_queue

        try:
            check_queue(args.queue)
        except ValueError as exc:
            raise ValidationError(f"--queue: {exc}") from None
    q = ctx.queue()
    if ctx.json:
        jobs = q.list(state=state, queue=args.queue, limit=args.limit, ready=args.ready)
        ctx.emit_json([j.to_dict() for j in jobs])
        return 0
    from . import render

    stream = q.iter_jobs(state=state, queue=args.queue, limit=args.limit, ready=args.ready)
    try:
        render.jobs_table(stream, limit=args.limit)
    finally:
        stream.close()  # also when the reader left early (`queuectl list | head`)
    return 0


def show(args: argparse.Namespace, ctx: Context) -> int:
    q = ctx.queue()
    job = q.get(args.id)
    history = q.history(args.id)
    if ctx.json:
        from ..models import job_document

        ctx.emit_json(job_document(job, history, show_env=args.show_env))
        return 0
    from . import render

    render.job_detail(job, history, show_env=args.show_env)
    return 0


def logs(args: argparse.Namespace, ctx: Context) -> int:
    q = ctx.queue()
    if not args.follow:
        output = q.logs(args.id, args.attempt)
        if ctx.json:
            ctx.emit_json(output.to_dict())
        else:
            _write_raw(output.stdout, output.stderr)
        return 0
    return _follow(ctx, args.id, args.attempt)


def _write_raw(out: bytes, err: bytes) -> None:
    sys.stdout.flush()
    if out:
        os.write(sys.stdout.fileno(), out)
    if err:
        os.write(sys.stderr.fileno(), err)


def _follow(ctx: Context, job_id: str, attempt: int | None) -> int:
    """Print an attempt's output as it grows (polling the store) until the attempt ends.

    With --json nothing streams: the one document comes when the attempt has ended.
    """
    q = ctx.queue()
    q.get(job_id)  # a missing job is an error at once, not a wait
    shown = {1: 0, 2: 0}  # bytes of stdout (fd 1) and stderr (fd 2) already written
    while True:
        try:
            output = q.logs(job_id, attempt)
        except NotFound:
            if attempt is not None and q.get(job_id).runs >= attempt:
                raise
            time.sleep(0.2)  # not started yet: wait for its first attempt
            continue
        attempt = output.attempt
        if not ctx.json:
            _show_new(1, output.stdout, output.stdout_total, shown)
            _show_new(2, output.stderr, output.stderr_total, shown)
        if output.finished:
            if ctx.json:
                ctx.emit_json(output.to_dict())
            return 0
        time.sleep(0.25)


def _show_new(fd: int, tail: bytes, total: int, shown: dict[int, int]) -> None:
    """Write what the stream gained since the last look; only its end is ever kept."""
    if total <= shown[fd]:
        return
    start = total - len(tail)  # where the kept tail begins in the whole stream
    sys.stdout.flush()
    if shown[fd] < start:
        os.write(2, f"[... {start - shown[fd]} bytes not kept ...]\n".encode())
    os.write(fd, tail[max(0, shown[fd] - start) :])
    shown[fd] = total
