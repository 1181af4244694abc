"""Command-line entry point ``l2course`` (filled in by the grading tools)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the ``l2course`` command line."""
    parser = argparse.ArgumentParser(prog="l2course", description=__doc__)
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
