"""`python -m benchmarks <benchmark> ...`: each prints figures, then one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a running production app (default: start one here)")
    parser.add_argument("--workers", type=int, default=1, help="backend workers (needs Redis)")
    parser.add_argument("--redis-url", help="REFLEX_REDIS_URL for the app started here")
    parser.add_argument("--database-url", help="index database of the app started here")
    parser.add_argument("--size", default="1024x1024", help="image size the app makes")


def _offline_env(size: str, latency_ms: int, concurrent: int, per_user: int) -> dict:
    """Settings of an app a benchmark starts itself: offline, fixed latency, no cost limits."""
    return {
        "VISIONARY_PROVIDER": "offline",
        "VISIONARY_OFFLINE_LATENCY_MS": str(latency_ms),
        "VISIONARY_IMAGE_SIZE": size,
        "VISIONARY_MAX_CONCURRENT_GENERATIONS": str(concurrent),
        "VISIONARY_MAX_RUNNING_JOBS_PER_USER": str(per_user),
        "VISIONARY_IMAGES_PER_USER_PER_HOUR": "0",
        "VISIONARY_IMAGES_PER_DAY": "0",
        "VISIONARY_ANONYMOUS_IMAGES_PER_HOUR": "0",
        "VISIONARY_ANONYMOUS_IMAGES_PER_ADDRESS_PER_HOUR": "0",
        "VISIONARY_MAX_QUEUED_JOBS_PER_USER": "0",
        "GRANIAN_WORKERS": "1",
    }


def _app_env(args: argparse.Namespace, latency_ms: int, concurrent: int, per_user: int) -> dict:
    """`_offline_env` with the target options (workers, Redis, database) of `args`."""
    env = _offline_env(args.size, latency_ms, concurrent, per_user)
    env["GRANIAN_WORKERS"] = str(args.workers)
    if args.redis_url:
        env["REFLEX_REDIS_URL"] = args.redis_url
    if args.database_url:
        env["VISIONARY_DATABASE_URL"] = args.database_url
    return env


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    benchmarks = parser.add_subparsers(dest="benchmark", required=True)
    listing = benchmarks.add_parser(
        "gallery-vs-listing",
        help="first gallery page: listing the container (original app) vs the SQL index",
    )
    listing.add_argument("--images", type=int, default=5000)
    listing.add_argument("--repeats", type=int, default=7, help="timed runs of the baseline")
    listing.add_argument(
        "--index-sizes",
        default="5000,1000000",
        help="comma-separated index sizes for the flatness check",
    )
    api = benchmarks.add_parser(
        "api", help="an API page of 50 vs the UI's page query; many API clients at once"
    )
    api.add_argument("--images", type=int, default=100_000)
    api.add_argument("--repeats", type=int, default=100)
    api.add_argument("--clients", type=int, default=50)
    api.add_argument("--latency-ms", type=int, default=1000, help="offline provider latency")
    api.add_argument("--max-concurrent", type=int, default=8, help="provider calls at once")
    _add_target_options(api)
    gallery = benchmarks.add_parser(
        "gallery", help="server-side time of gallery pages and searches (SQLite or PostgreSQL)"
    )
    gallery.add_argument("--images", type=int, default=100_000)
    gallery.add_argument("--baseline", type=int, default=1000, help="the small index to compare")
    gallery.add_argument("--repeats", type=int, default=200)
    gallery.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+psycopg://…) to measure in fresh schemas; "
        "SQLite files otherwise",
    )
    load = benchmarks.add_parser(
        "load", help="many clients generating at once over the app's websocket protocol"
    )
    load.add_argument("--clients", type=int, default=50)
    load.add_argument("--images-per-client", type=int, default=1)
    load.add_argument("--latency-ms", type=int, default=1000, help="offline provider latency")
    load.add_argument("--max-concurrent", type=int, default=8, help="provider calls at once")
    _add_target_options(load)
    concurrency = benchmarks.add_parser(
        "concurrency", help="one page starts many jobs at once; they must overlap"
    )
    concurrency.add_argument("--jobs", type=int, default=20)
    concurrency.add_argument("--latency-ms", type=int, default=2000)
    _add_target_options(concurrency)
    overhead = benchmarks.add_parser(
        "overhead", help="per-image time the app adds on top of the provider (on Azurite)"
    )
    overhead.add_argument("--images", type=int, default=30)
    overhead.add_argument("--size", default="1024x1024")
    tab_state = benchmarks.add_parser(
        "tab-state", help="one tab's gallery state after scrolling N images (bounded window)"
    )
    tab_state.add_argument("--images", type=int, default=1000)
    zipping = benchmarks.add_parser(
        "zip", help="peak memory of a streamed zip of N images, against one built in memory"
    )
    zipping.add_argument("--images", type=int, default=1000)
    zipping.add_argument("--kb", type=int, default=300, help="size of each image")
    lighthouse = benchmarks.add_parser(
        "lighthouse", help="Lighthouse scores of the studio page (mobile defaults)"
    )
    lighthouse.add_argument("--images", type=int, default=24)
    lighthouse.add_argument("--runs", type=int, default=3, help="the median run is reported")
    waiting = benchmarks.add_parser(
        "waiting-jobs", help="CPU of jobs waiting for a slot, against one-by-one polling"
    )
    waiting.add_argument("--jobs", type=int, default=1000)
    waiting.add_argument("--baseline-jobs", type=int, default=50, help="polling jobs measured")
    waiting.add_argument("--seconds", type=float, default=20.0)
    idle = benchmarks.add_parser(
        "idle", help="many open tabs while nothing happens; one image pushed to all of them"
    )
    idle.add_argument("--tabs", type=int, default=1000)
    idle.add_argument("--idle-seconds", type=float, default=30.0)
    idle.add_argument("--images", type=int, default=5, help="uploads pushed to every tab")
    idle.add_argument(
        "--polling",
        action="store_true",
        help="tabs send check_new and sync_jobs every 3 s, as the page did before push "
        "(to measure that version with --url)",
    )
    idle.add_argument("--url", help="a running production app (default: start one here)")
    idle.add_argument(
        "--database-url",
        help="the PostgreSQL database of the app at --url; without --url, the server to make "
        "a fresh schema on (default: the local one)",
    )
    chaos = benchmarks.add_parser(
        "chaos",
        help="the load on two backends behind Caddy; one killed (or, --rolling, each "
        "restarted) mid-run",
    )
    chaos.add_argument("--clients", type=int, default=50)
    chaos.add_argument("--latency-ms", type=int, default=1000, help="offline provider latency")
    chaos.add_argument("--stale-seconds", type=float, default=30.0, help="job heartbeat timeout")
    chaos.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    chaos.add_argument("--database-url", help="the PostgreSQL server (default: the local one)")
    chaos.add_argument(
        "--rolling", action="store_true", help="restart each backend in turn with SIGTERM"
    )
    chaos.add_argument("--drain-seconds", type=int, default=60, help="VISIONARY_DRAIN_SECONDS")
    args = parser.parse_args(argv)

    if args.benchmark == "api":
        from benchmarks.api import run as run_api

        env = _app_env(args, args.latency_ms, args.max_concurrent, per_user=2)
        result = asyncio.run(
            run_api(
                images=args.images, repeats=args.repeats, clients=args.clients,
                latency_ms=args.latency_ms, url=args.url, env=env, log=_log,
            )
        )  # fmt: skip
    elif args.benchmark == "gallery":
        from benchmarks.gallery import run as run_gallery

        result = asyncio.run(
            run_gallery(args.images, args.baseline, args.repeats, _log, args.database_url)
        )
    elif args.benchmark == "gallery-vs-listing":
        from benchmarks.gallery_vs_listing import run

        sizes = [int(size) for size in args.index_sizes.split(",") if size]
        result = asyncio.run(run(args.images, args.repeats, sizes, _log))
    elif args.benchmark == "idle":
        from benchmarks.databases import LOCAL_POSTGRES, fresh_schema
        from benchmarks.idle import run_idle

        env = _offline_env("512x512", latency_ms=200, concurrent=8, per_user=2)
        with contextlib.ExitStack() as stack:
            database_url = args.database_url
            if args.url is None:
                database_url = stack.enter_context(
                    fresh_schema(database_url or LOCAL_POSTGRES, "bench_idle")
                )
                env["VISIONARY_DATABASE_URL"] = database_url
            elif database_url is None:
                parser.error("--url needs --database-url (the app's PostgreSQL database)")
            result = asyncio.run(
                run_idle(
                    tabs=args.tabs, idle_s=args.idle_seconds, images=args.images,
                    polling=args.polling, url=args.url, database_url=database_url, env=env,
                    log=_log,
                )
            )  # fmt: skip
    elif args.benchmark == "chaos":
        import tempfile
        from pathlib import Path

        from benchmarks.chaos import run_chaos
        from benchmarks.databases import LOCAL_POSTGRES, fresh_schema

        env = _offline_env("512x512", args.latency_ms, concurrent=8, per_user=2)
        with fresh_schema(args.database_url or LOCAL_POSTGRES, "bench_chaos") as database_url:
            result = asyncio.run(
                run_chaos(
                    clients=args.clients, latency_ms=args.latency_ms,
                    stale_s=args.stale_seconds, redis_url=args.redis_url,
                    database_url=database_url, env=env, log=_log,
                    work=Path(tempfile.mkdtemp(prefix="bench-chaos-")),
                    rolling=args.rolling, drain_s=args.drain_seconds,
                )
            )  # fmt: skip
    elif args.benchmark == "load":
        from benchmarks.load import run_load

        env = _app_env(args, args.latency_ms, args.max_concurrent, per_user=2)
        result = asyncio.run(
            run_load(
                clients=args.clients, images_per_client=args.images_per_client,
                latency_ms=args.latency_ms, url=args.url, env=env, log=_log,
            )
        )  # fmt: skip
    elif args.benchmark == "concurrency":
        from benchmarks.load import run_concurrency

        env = _app_env(args, args.latency_ms, args.jobs, per_user=args.jobs)
        result = asyncio.run(
            run_concurrency(
                jobs=args.jobs, latency_ms=args.latency_ms, url=args.url, env=env, log=_log
            )
        )
    elif args.benchmark == "tab-state":
        from benchmarks.tab_state import run as run_tab_state

        result = asyncio.run(run_tab_state(args.images, _log))
    elif args.benchmark == "zip":
        from benchmarks.zip import run as run_zip

        result = asyncio.run(run_zip(args.images, args.kb, _log))
    elif args.benchmark == "lighthouse":
        from benchmarks.lighthouse import run as run_lighthouse

        result = run_lighthouse(args.images, args.runs, _log)
    elif args.benchmark == "waiting-jobs":
        from benchmarks.waiting_jobs import run as run_waiting

        result = asyncio.run(run_waiting(args.jobs, args.baseline_jobs, args.seconds, _log))
    elif args.benchmark == "overhead":
        from benchmarks.overhead import run_overhead

        result = asyncio.run(run_overhead(images=args.images, size=args.size, log=_log))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
