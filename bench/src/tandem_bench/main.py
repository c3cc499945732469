"""``tandem-bench``: measure the suite against raw Kafka and a naive peer; see bench/README.md."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from tandem_bench.figures import FIGURES, SIZES, Bench

RESULTS = Path(__file__).resolve().parents[2] / "results"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and exit with its status."""
    parser = argparse.ArgumentParser(prog="tandem-bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="moderate", help="moderate (default) or large")
    parser.add_argument("--employees", type=int, help="override the size's head count (for development)")
    parser.add_argument("--seed", type=int, default=7, help="the synthetic organisation's seed")
    parser.add_argument(
        "--only", help=f"comma-separated figures to measure: {','.join(FIGURES)} (also figure1..figure7); default all"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON and markdown go")
    parser.add_argument("--profile", action="store_true", help="write pyinstrument profiles of the rebuilds to the results")
    parser.add_argument("--keep", action="store_true", help="keep the run's temporary stores and service logs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its retries (e.g. a new topic's leader election) are not news
    size = SIZES[args.size]
    if args.employees:
        size = replace(size, employees=args.employees)
    only = set(FIGURES)
    if args.only:
        chosen = {name.strip() for name in args.only.split(",") if name.strip()}
        by_number = {f"figure{n}": name for n, name in enumerate(FIGURES, start=1)}
        only = {by_number.get(name, name) for name in chosen}
        unknown = only - set(FIGURES)
        if unknown:
            parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    # A SIGTERM unwinds like Ctrl-C, so the broker and services this run started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(size, seed=args.seed, only=only, results=args.results, profile=args.profile, keep=args.keep)
    sys.exit(bench.run())


if __name__ == "__main__":
    main()
