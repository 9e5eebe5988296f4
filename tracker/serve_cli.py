"""The `serve`, `review` and `export` commands (registered into tracker.cli's parser)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from .config import load
from .errors import TrackerError
from .review import SIGNIFICANCE, NoSuchEvent, export_records, set_review, to_csv, to_json
from .store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOOPBACK = ("127.", "localhost", "::1")


def register(subparsers) -> None:
    sp = subparsers.add_parser("serve", help="run the scheduler and the web server (feeds and change-log pages)")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    sp.add_argument("--no-schedule", action="store_true", help="serve pages and feeds only; poll nothing")
    sp.set_defaults(func=cmd_serve)

    sp = subparsers.add_parser("review", help="record a review (note, significance) of an event")
    sp.add_argument("event_id", type=int, metavar="EVENT_ID")
    sp.add_argument("--note", metavar="TEXT")
    sp.add_argument("--significance", choices=SIGNIFICANCE)
    sp.set_defaults(func=cmd_review)

    sp = subparsers.add_parser("export", help="write events with their documents as CSV or JSON")
    sp.add_argument("--format", choices=("csv", "json"), default="csv")
    sp.add_argument("--since", help="7d, 12h or a date such as 2026-05-01")
    sp.add_argument("--topic", metavar="ID")
    sp.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    sp.set_defaults(func=cmd_export)


def _usage(message: str) -> TrackerError:
    from .cli import UsageError  # late: cli imports this module

    return UsageError(message)


# -- review / export ---------------------------------------------------------------------------
def cmd_review(args) -> int:
    config = load(args.config)
    with Store(config.settings.db_path) as store:
        if args.note is None and args.significance is None:
            rv = store.review(args.event_id)
            if store.event(args.event_id) is None:
                raise _usage(f"no event {args.event_id}")
            print(_review_line(args.event_id, dict(rv)) if rv else f"event {args.event_id}: not reviewed")
            return EXIT_OK
        try:
            rv = set_review(store, args.event_id, note=args.note, significance=args.significance)
        except NoSuchEvent:
            raise _usage(f"no event {args.event_id}") from None
    print(_review_line(args.event_id, rv))
    return EXIT_OK


def _review_line(event_id: int, rv: dict) -> str:
    parts = [f"event {event_id} reviewed {rv['reviewed_at']}"]
    if rv.get("significance"):
        parts.append(f"significance {rv['significance']}")
    if rv.get("note"):
        parts.append(f"note: {rv['note']}")
    return "; ".join(parts)


def cmd_export(args) -> int:
    from .cli import parse_since

    config = load(args.config)
    if args.topic:
        config.topic(args.topic)  # an unknown topic is a usage error, not an empty file
    since = parse_since(args.since) if args.since else None
    with Store(config.settings.db_path) as store:
        records = export_records(store, since=since, topic=args.topic)
    text = to_csv(records) if args.format == "csv" else to_json(records)
    data = text.encode("utf-8")
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"{len(records)} event(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.flush()
        out = getattr(sys.stdout, "buffer", None)
        if out is not None:
            out.write(data)
            out.flush()
        else:
            sys.stdout.write(text)
    return EXIT_OK


# -- serve ------------------------------------------------------------------------------------------
class _Terminated(Exception):
    pass


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def cmd_serve(args) -> int:
    import uvicorn

    from .schedule import PollScheduler
    from .web import create_app, listen

    config = load(args.config)
    if not args.host.startswith(LOOPBACK) and not config.settings.token:
        print(f"tracker: warning: serving on {args.host} without settings.token: anyone who can reach this "
              "port can read the pages and feeds", file=sys.stderr)
    with Store(config.settings.db_path):
        pass  # create or migrate the database before any thread touches it
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not two lines per job run
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        sock = listen(args.host, args.port)
    except OSError as e:
        print(f"tracker: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return EXIT_FAILED
    port = sock.getsockname()[1]
    scheduler = None if args.no_schedule else PollScheduler(config)
    app = create_app(config, scheduler=scheduler)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=port, log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=3, lifespan="on"))
    # uvicorn turns SIGTERM into a graceful stop, then raises it again once it is done;
    # this handler turns that (or a SIGTERM during start-up) into a clean return.
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if scheduler is not None:
            scheduler.start()
        print(f"tracker: serving on http://{_host_for_url(args.host)}:{port}/ "
              f"({'scheduler on' if scheduler else 'no scheduler'}); Ctrl-C stops", file=sys.stderr, flush=True)
        server.run(sockets=[sock])
        return EXIT_OK if server.started else EXIT_FAILED
    except (_Terminated, KeyboardInterrupt):
        return EXIT_OK  # the way a service is asked to stop, not a failure
    finally:
        signal.signal(signal.SIGTERM, previous)  # a second SIGTERM while stopping ends the process at once
        if scheduler is not None:
            scheduler.stop()
        sock.close()
        print("tracker: stopped", file=sys.stderr, flush=True)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
