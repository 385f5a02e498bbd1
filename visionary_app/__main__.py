"""Command line: `python -m visionary_app migrate`."""

from __future__ import annotations

import argparse
import sys

from visionary_app.services.database import upgrade_to_head
from visionary_app.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    """Run one maintenance command."""
    parser = argparse.ArgumentParser(prog="python -m visionary_app")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the image index to the latest migration")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        upgrade_to_head(get_settings().resolved_database_url)
        print("image index is at the latest migration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
