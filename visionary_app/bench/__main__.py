"""`python -m visionary_app.bench <benchmark> ...`: each prints figures, then one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark."""
    parser = argparse.ArgumentParser(prog="python -m visionary_app.bench")
    benchmarks = parser.add_subparsers(dest="benchmark", required=True)
    listing = benchmarks.add_parser(
        "gallery-vs-listing",
        help="first gallery page: listing the container (original app) vs the SQL index",
    )
    listing.add_argument("--images", type=int, default=5000)
    listing.add_argument("--repeats", type=int, default=7, help="timed runs of the baseline")
    listing.add_argument(
        "--index-sizes",
        default="1000,100000",
        help="comma-separated index sizes for the flatness check",
    )
    gallery = benchmarks.add_parser(
        "gallery", help="server-side time of gallery pages and searches (SQLite)"
    )
    gallery.add_argument("--images", type=int, default=100_000)
    gallery.add_argument("--baseline", type=int, default=1000, help="the small index to compare")
    gallery.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)

    if args.benchmark == "gallery":
        from visionary_app.bench.gallery import run as run_gallery

        result = asyncio.run(run_gallery(args.images, args.baseline, args.repeats, _log))
    elif args.benchmark == "gallery-vs-listing":
        from visionary_app.bench.gallery_vs_listing import run

        sizes = [int(size) for size in args.index_sizes.split(",") if size]
        result = asyncio.run(run(args.images, args.repeats, sizes, _log))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
