"""``sceau monitor``: follow transparency logs, prove they only grow, report watched signers.

Exit status (a scripting contract, docs/monitoring.md): 0 nothing matched, 1 something
matched, 2 a log is inconsistent or its checkpoint signature is bad (also said on stderr),
3 any other error (a log unreachable, bad arguments, a webhook that failed). When several
happen in one run, 2 wins over 3, and 3 over 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

OK, MATCHED, ALARM, ERROR = 0, 1, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def error(message: str) -> NoReturn:  # usage errors are "other errors" (3), not 2
        parser.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(ERROR)

    parser.error = error  # type: ignore[method-assign]
    parser.add_argument(
        "--trusted-root",
        required=True,
        metavar="FILE",
        help="trusted_root.json or a ClientTrustConfig naming the logs",
    )
    parser.add_argument(
        "--watch", required=True, metavar="WATCH.toml", help="what to report (docs/monitoring.md)"
    )
    parser.add_argument(
        "--state",
        required=True,
        metavar="DIR",
        help="where the last verified tree of each log is kept",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one pass over every log (default)")
    mode.add_argument("--follow", action="store_true", help="keep following, every --interval")
    parser.add_argument(
        "--interval",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds between passes with --follow (default 60)",
    )
    parser.add_argument(
        "--log",
        action="append",
        choices=["rekor-v1", "rekor-v2", "ct"],
        dest="kinds",
        help="follow only logs of this kind (repeatable)",
    )
    parser.add_argument(
        "--from-index",
        type=int,
        metavar="N",
        help="on a log's first run, scan from entry N instead of from now",
    )
    parser.add_argument("--webhook", metavar="URL", help="also POST each match as JSON here")
    parser.add_argument(
        "--witness-policy",
        metavar="FILE",
        help="a C2SP tlog-policy: the checkpoints of the logs it names must carry its quorum "
        "of witness cosignatures (else exit 2)",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="draw a progress bar on stderr (default: when it is a terminal)",
    )
    progress.add_argument("--no-progress", action="store_false", dest="progress")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from sceau.monitor.output import Reporter

    reporter = Reporter(args.webhook, progress=args.progress)
    try:
        return _run(args, reporter)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        from sceau.errors import SceauError

        if os.environ.get("SCEAU_DEBUG") and not isinstance(e, SceauError):
            raise
        reporter.error(e.message if isinstance(e, SceauError) else f"{type(e).__name__}: {e}")
        return ERROR


def _run(args: argparse.Namespace, reporter: Any) -> int:
    from sceau.client.trust import load_trusted_root
    from sceau.errors import InputError
    from sceau.monitor.logs import KINDS, targets
    from sceau.monitor.sources import Http
    from sceau.monitor.state import locked
    from sceau.monitor.watch import load_watch

    if args.interval <= 0:
        raise InputError("--interval must be positive")
    if args.from_index is not None and args.from_index < 0:
        raise InputError("--from-index must be a non-negative index")
    watch = load_watch(args.watch)
    logs = targets(load_trusted_root(args.trusted_root), tuple(args.kinds or KINDS))
    if not logs:
        raise InputError(f"{args.trusted_root} names no log to monitor")
    if args.witness_policy:
        from sceau.client.witness_policy import load_policy
        from sceau.monitor.logs import with_witness_policy

        logs = with_witness_policy(logs, load_policy(args.witness_policy))
    state_dir = Path(args.state)
    http = Http()
    try:
        with locked(state_dir):
            if not args.follow:
                return _one_round(logs, http, state_dir, watch, args, reporter)
            while True:
                status = _one_round(logs, http, state_dir, watch, args, reporter)
                if status == ALARM:
                    return ALARM
                time.sleep(args.interval)
    finally:
        http.close()


def _one_round(
    logs: list[Any], http: Any, state_dir: Path, watch: Any, args: Any, reporter: Any
) -> int:
    """One pass over every log; the worst outcome decides the status."""
    from sceau.errors import SceauError
    from sceau.monitor.errors import LogAlarm
    from sceau.monitor.run import run_pass, source_for

    alarm = error = matched = False
    for target in logs:
        try:
            result = run_pass(
                target, source_for(target, http), state_dir, watch, from_index=args.from_index,
                progress=reporter.progress(target.label),
            )  # fmt: skip
            for record in result.matches:
                matched = True
                reporter.match(record)
            result.commit(state_dir)
        except LogAlarm as e:
            alarm = True
            reporter.alarm(e.message)
        except SceauError as e:
            error = True
            reporter.error(f"{target.label}: {e.message}")
    return ALARM if alarm else ERROR if error else MATCHED if matched else OK
