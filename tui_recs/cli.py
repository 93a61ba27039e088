"""The ``tui-recs`` command line. It parses arguments and prints; the work is in the core.

Exit codes: 0 ok, 1 data/model error, 2 usage error. Errors are one line on stderr
(``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from tui_recs.errors import TuiRecsError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(TuiRecsError):
    """Bad command-line usage (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit itself
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    from tui_recs.data import FORMATS

    group = parser.add_argument_group("data")
    group.add_argument("--data", metavar="PATH",
                       help="listening data: a Last.fm 360K TSV, the hetrec-2k folder, or a CSV/TSV "
                            "(default: the built-in demo data)")
    group.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                       help="format of --data (default: detected)")
    group.add_argument("--cache-dir", metavar="DIR",
                       help="artifact cache (default: $TUI_RECS_CACHE_DIR, ./cache/ if it exists, "
                            "else the user cache dir)")
    group.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tui-recs", description=__doc__.splitlines()[0].rstrip("."))
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    info = commands.add_parser("info", help="describe a dataset: sizes, density, top artists")
    _add_data_options(info)
    info.add_argument("--top", type=int, default=10, help="how many top artists to list")
    info.add_argument("--json", action="store_true", help="one JSON document on stdout")

    demo = commands.add_parser("demo-data", help="write the synthetic demo data as a Last.fm 360K TSV")
    demo.add_argument("out_dir", metavar="OUT_DIR", type=Path)
    demo.add_argument("--scale", default="default",
                      help="'default' (~20K listeners x 5K artists), '360k' (Last.fm 360K shape), "
                           "or a factor such as 0.1 of the 360K shape")
    demo.add_argument("--seed", type=int, default=0)
    return parser


def open_dataset(args: argparse.Namespace, progress: Any = None):
    """The Dataset named by --data/--format (the demo data when --data is absent), via the cache."""
    from tui_recs.data import demo
    from tui_recs.data.store import load_cached

    if args.data is None:
        return demo()
    cache_dir = None if args.no_cache else args.cache_dir
    return load_cached(args.data, format=args.format, cache_dir=cache_dir,
                       use_cache=not args.no_cache)


def _cmd_info(args: argparse.Namespace) -> int:
    dataset = open_dataset(args)
    summary = dataset.summary(top=args.top)
    if args.json:
        print(json.dumps(summary, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{summary['source']}[/bold]")
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        ("listeners", f"{summary['users']:,}"), ("artists", f"{summary['items']:,}"),
        ("plays (nnz)", f"{summary['plays_nnz']:,}"), ("total plays", f"{summary['total_plays']:,.0f}"),
        ("density", f"{summary['density']:.4%}"), ("fingerprint", summary["fingerprint"]),
        ("dropped rows", ", ".join(f"{k}: {v:,}" for k, v in summary["dropped_rows"].items()) or "none"),
    ):
        facts.add_row(label, value)
    console.print(facts)
    table = Table(title="top artists by listeners")
    for column, justify in (("rank", "right"), ("artist", "left"), ("listeners", "right"),
                            ("plays", "right")):
        table.add_column(column, justify=justify)
    for row in summary["top_artists"]:
        table.add_row(str(row["rank"]), row["artist"], f"{row['listeners']:,}", f"{row['plays']:,.0f}")
    console.print(table)
    return EXIT_OK


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from tui_recs.data.demo import scale_options, write_lastfm360k

    path = write_lastfm360k(args.out_dir, **scale_options(args.scale), seed=args.seed)
    print(path)
    return EXIT_OK


COMMANDS = {"info": _cmd_info, "demo-data": _cmd_demo_data}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("TUI_RECS_DEBUG"))
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("tui-recs: the terminal UI is not built yet; try 'tui-recs info' "
                             "or 'tui-recs --help'")
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.formatwarning = lambda message, *rest: f"tui-recs: warning: {message}\n"
            return COMMANDS[args.command](args)
    except UsageError as error:
        if debug:
            raise
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except TuiRecsError as error:
        if debug:
            raise
        print(f"tui-recs: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tui-recs: interrupted", file=sys.stderr)
        return 130
