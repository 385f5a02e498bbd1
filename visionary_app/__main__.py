"""Command line: `python -m visionary_app migrate | sync [--dry-run] [--force] | hash-password`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import timedelta

from visionary_app.services.access import hash_password
from visionary_app.services.gallery import DEFAULT_GRACE, MAX_REMOVED_SHARE, SyncRefused, reconcile
from visionary_app.services.kit import upgrade_to_head
from visionary_app.services.studio import build_studio
from visionary_app.settings import get_settings


async def _sync(dry_run: bool, grace: timedelta, force: bool) -> int:
    studio = build_studio(get_settings())
    try:
        report = await reconcile(
            studio.store, studio.catalog, dry_run=dry_run, grace=grace, force=force
        )
    except SyncRefused as exc:
        print(f"sync refused: {exc}", file=sys.stderr)
        return 2
    finally:
        await studio.aclose()
    print("\n".join(report.lines()))
    return 0


def _hash_password() -> int:
    """Never from the command line's arguments: they end up in the shell's history."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("an empty password cannot be used", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one maintenance command."""
    parser = argparse.ArgumentParser(prog="python -m visionary_app")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the image index to the latest migration")
    sync = commands.add_parser(
        "sync", help="reconcile the index with the blob store (safe while the app runs)"
    )
    sync.add_argument(
        "--dry-run", action="store_true", help="print what would change, change nothing"
    )
    sync.add_argument(
        "--grace-seconds",
        type=float,
        default=DEFAULT_GRACE.total_seconds(),
        help="leave blobs younger than this alone (they may be mid-generation)",
    )
    sync.add_argument(
        "--force",
        action="store_true",
        help=f"remove rows even when the store lists no images or more than "
        f"{MAX_REMOVED_SHARE:.0%} of them are gone",
    )
    commands.add_parser(
        "hash-password",
        help="read a password (typed, or from stdin) and print its argon2 hash for "
        "VISIONARY_ACCESS_USERS=name:<hash>",
    )
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return _hash_password()
    upgrade_to_head(get_settings().resolved_database_url)
    if args.command == "migrate":
        print("image index is at the latest migration")
        return 0
    return asyncio.run(_sync(args.dry_run, timedelta(seconds=args.grace_seconds), args.force))


if __name__ == "__main__":
    sys.exit(main())
