"""What every benchmark script does around its measurement: read its counts, show its table.

A script's options are whole numbers (frames, connections, rounds...), each with a least
value; ``parse_counts`` reads them and refuses, with argparse's usage line, any below it.
``main(argv)`` then prints its heading, measures, and hands the table to ``show_table``,
which prints it and returns it for the smoke tests.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Count", "parse_counts", "rounds", "show_table"]


@dataclass(frozen=True)
class Count:
    """A whole-number option: its flags as ``add_argument`` takes them, the last one long."""

    flags: tuple[str, ...]
    default: int
    help: str
    least: int = 1


def rounds(default: int) -> Count:
    """The ``--rounds`` of every benchmark: how often each peer is measured, interleaved."""
    return Count(("--rounds",), default, "interleaved rounds")


def refusal(counts: Sequence[Count]) -> str:
    """'--a, --b and --c must be positive', then ', --d >= 0' for each that may be 0."""
    positive = [count.flags[-1] for count in counts if count.least == 1]
    named = ", ".join(positive[:-1]) + " and " + positive[-1] if len(positive) > 1 else positive[0]
    others = (f", {count.flags[-1]} >= {count.least}" for count in counts if count.least != 1)
    return f"{named} must be positive" + "".join(others)


def parse_counts(doc: str | None, argv: list[str] | None, *counts: Count) -> argparse.Namespace:
    """``argv`` read as ``counts``, in that order, under a ``--help`` that prints ``doc``."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    dests = [
        parser.add_argument(*count.flags, type=int, default=count.default, help=count.help).dest
        for count in counts
    ]
    args = parser.parse_args(argv)
    if any(getattr(args, dest) < count.least for dest, count in zip(dests, counts, strict=True)):
        parser.error(refusal(counts))
    return args


def show_table(table: str) -> str:
    """Print ``table`` below the heading, after a blank line; return it."""
    print()
    print(table)
    return table
