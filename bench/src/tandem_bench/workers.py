"""Measured work that runs in its own process, so its CPU and peak memory are its own.

``python -m tandem_bench.workers peer|rebuild ...`` prints progress on stderr and, last, one line
``RESULT {json}`` on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from tandem_bench.kafka_io import EVENT_TOPICS
from tandem_bench.naive_peer import run_naive_peer


def _peer(args: argparse.Namespace) -> dict[str, Any]:
    result = asyncio.run(run_naive_peer(args.bootstrap, EVENT_TOPICS, args.database, args.seconds, args.limit))
    return {"events": result.events, "seconds": result.seconds}


def _rebuild(args: argparse.Namespace) -> dict[str, Any]:
    try:
        from tandem_projections.rebuild import rebuild
    except ImportError as error:
        return {"available": False, "reason": f"tandem_projections.rebuild is not available: {error}"}
    reported = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - reported[0] >= 5 or done >= total:
            reported[0] = now
            print(f"rebuild: {done:,} of {total:,} events", file=sys.stderr, flush=True)

    async def run() -> Any:
        return await rebuild(args.database_url, args.bootstrap, progress=progress)

    started = time.perf_counter()
    if args.profile:
        from pyinstrument import Profiler

        with Profiler(async_mode="enabled") as profiler:
            report = asyncio.run(run())
        Path(args.profile).write_text(profiler.output_html())
    else:
        report = asyncio.run(run())
    wall = time.perf_counter() - started
    return {"available": True, "events": report.events, "seconds": report.seconds, "wall_seconds": wall,
            "replay_seconds": report.replay_seconds, "cards_seconds": report.cards_seconds}


def main(argv: list[str] | None = None) -> None:
    """Run one worker and print its result."""
    parser = argparse.ArgumentParser(prog="python -m tandem_bench.workers")
    commands = parser.add_subparsers(dest="command", required=True)
    peer = commands.add_parser("peer", help="the naive FastStream projection, time-boxed")
    peer.add_argument("--bootstrap", required=True)
    peer.add_argument("--database", required=True)
    peer.add_argument("--seconds", type=float, default=30)
    peer.add_argument("--limit", type=int, default=10**12)
    rebuild = commands.add_parser("rebuild", help="the projections service's rebuild from offset 0")
    rebuild.add_argument("--bootstrap", required=True)
    rebuild.add_argument("--database-url", required=True)
    rebuild.add_argument("--profile", help="write a pyinstrument HTML profile here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leaving a group at shutdown is not news
    result = _peer(args) if args.command == "peer" else _rebuild(args)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
