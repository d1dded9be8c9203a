"""``python -m sandbox.serve``: the sandbox server process (started by ``Sandbox``).

Prints exactly one line, a JSON object with the port, once it accepts connections, then
never writes to stdout again. Exits when its parent dies, so no server outlives a test run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time

from .emulation import Emulation
from .server import IDLE_TIMEOUT, make_sandbox_server, seed_ids, warm


def _watch_parent(parent_pid: int) -> None:
    """Stop serving if the process that started us is gone (killed test runner, etc.)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delivery-interval", type=float, default=2.0)
    parser.add_argument(
        "--lookup-events-rps",
        type=float,
        default=2.0,
        help="LookupEvents limit per account and region; 0 disables it",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT,
        help="seconds a kept-alive connection may stay idle before the server closes it",
    )
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed moto's ids (accounts, keys, ...) so the same seeding gives the same estate",
    )
    args = parser.parse_args(argv)
    if args.seed is not None:
        seed_ids(args.seed)

    emulation = Emulation.create(args.delivery_interval, args.lookup_events_rps or None)
    server = make_sandbox_server(emulation, args.host, args.port, args.idle_timeout)
    host, port = server.server_address[:2]
    # Before the ready line: the parent is importing its SDK meanwhile, and a request that
    # arrived during the warm-up would wait for it anyway.
    warm(server)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    sys.stdout.write(
        json.dumps({"ready": True, "host": host, "port": port, "pid": os.getpid()}) + "\n"
    )
    sys.stdout.flush()
    # Nothing else may reach the parent's pipe (nobody reads it after the ready line).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
