"""The ``tui-recs`` command line: every question the UI answers, answerable from a shell.

It parses arguments, calls the core and prints; no logic lives only here. Exit codes: 0 ok,
1 data/model error, 2 usage error; errors are one line on stderr (``--debug`` shows the
traceback). ``--json`` prints one JSON document on stdout and nothing else there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tui_recs import __version__
from tui_recs.defaults import MIN_LISTENERS
from tui_recs.errors import TuiRecsError
from tui_recs.models import registry
from tui_recs.models.params import MAX_SEED, ParameterError, resolve
from tui_recs.text import counted, printable

if TYPE_CHECKING:
    from datetime import datetime

    from tui_recs.cache import ArtifactStore
    from tui_recs.data.dataset import Dataset
    from tui_recs.models.base import Recommender
    from tui_recs.models.params import Param
    from tui_recs.pipeline import ReadyModel
    from tui_recs.session import Session

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(TuiRecsError):
    """Bad command-line usage (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit(2) itself
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


# ------------------------------------------------------------------------------- options
#: What ``tui-recs download`` fetches (tui_recs.data.download.ARCHIVES, not imported to parse).
DOWNLOADABLE = ("hetrec-2k", "lastfm-360k")
#: What ``--output-format`` prints results as.
OUTPUT_FORMATS = ("table", "tsv", "csv", "json")
#: The most results a list (-n, --top, --k) may ask for: more is a usage error, not clipped.
MAX_RESULTS = 10_000


def _add_data_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """--data, --format, --cache-dir, --no-cache. Subcommands take them too, without defaults
    of their own, so ``tui-recs --data X info`` and ``tui-recs info --data X`` agree."""
    from tui_recs.data import FORMATS

    group = parser.add_argument_group("data")
    if not defaults:
        group.argument_default = argparse.SUPPRESS
    group.add_argument("--data", metavar="PATH",
                       help="listening data: a Last.fm 360K TSV, the hetrec-2k folder, or a CSV/TSV "
                            "(default: the built-in demo data)")
    group.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                       help="format of --data (default: detected)")
    group.add_argument("--encoding", metavar="NAME", type=_encoding,
                       help="text encoding of --data (default: UTF-8, or UTF-16/32 by its "
                            "byte-order mark), e.g. latin-1")
    group.add_argument("--cache-dir", metavar="DIR",
                       help="artifact cache (default: $TUI_RECS_CACHE_DIR, ./cache/ if it exists, "
                            "else the user cache dir)")
    group.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _add_external_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """--bundle and --model-file: models trained elsewhere (on every command, like --data)."""
    group = parser.add_argument_group("models trained elsewhere")
    if not defaults:
        group.argument_default = argparse.SUPPRESS
    group.add_argument("--bundle", metavar="DIR", action="append", default=[] if defaults
                       else argparse.SUPPRESS,
                       help="open a model bundle (docs/bundle.md) instead of --data: its model is "
                            "'bundle'; a second --bundle of the same data is 'bundle2', to compare")
    group.add_argument("--model-file", metavar="PATH",
                       help="open implicit's saved .npz (ALS, BPR, LMF, item-item) or a folder "
                            "of item_factors/user_factors, matched to the data by position or id")


def _external_session(argv: Sequence[str]) -> "Session | None":
    """The session of a command line with --bundle or --model-file, its external models
    registered (so that --model accepts their names); None without those options."""
    if not any(word.split("=")[0] in ("--bundle", "--model-file") for word in argv):
        return None
    pre = _Parser(prog="tui-recs", add_help=False)
    _add_data_options(pre)
    _add_external_options(pre)
    args, _ = pre.parse_known_args(argv)
    session = _new_session(args)
    session.external_models  # registers them
    return session


def _encoding(text: str) -> str:
    import codecs

    try:
        return codecs.lookup(text).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r} (e.g. utf-8, latin-1, "
                                         "utf-16)") from None


def model_flags() -> dict[str, list[tuple[type["Recommender"], "Param"]]]:
    """Each hyperparameter flag ("--alpha") with the registered models that declare it and
    their declaration, in registration order; parameters the front ends set themselves
    (reporting) have none."""
    flags: dict[str, list[tuple[type[Recommender], Param]]] = {}
    for name in registry.names():
        model = registry.model_class(name)
        for param in model.PARAMS:
            if param.effect != "reporting":
                flags.setdefault(param.flag, []).append((model, param))
    return flags


def _flag_help(declared: list[tuple[type["Recommender"], "Param"]]) -> str:
    """One help line for a flag: what it means and its default for each model declaring it."""
    texts = {(param.help, param.default, param.allowed) for _, param in declared}
    titles = ", ".join(model.title for model, _ in declared)
    if len(texts) == 1:
        _, param = declared[0]
        choices = f"; one of {', '.join(param.choices)}" if param.choices else ""
        return f"{param.help} (default {_default(param)}{choices}; {titles})"
    return "; ".join(f"{model.title}: {param.help} (default {_default(param)}"
                     + (f"; {param.allowed})" if param.choices else ")")
                     for model, param in declared)


def _default(param: "Param") -> str:
    return param.none_means if param.default is None else str(param.default)


def _flag_type(flag: str, declared: list[tuple[type["Recommender"], "Param"]]
               ) -> Callable[[str], Any]:
    """argparse's type for a hyperparameter flag: the text as the declared type, and for
    numbers finite (whichever model takes it). Ranges, which differ between models, are
    checked once the model is known (:meth:`Command.params`)."""
    kind = declared[0][1].kind
    optional = any(param.optional for _, param in declared)

    def parse(text: str) -> Any:
        if optional and text.strip().lower() == "none":
            return None
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {_allowed(declared)}, not {text}")
        return value

    parse.__name__ = flag  # argparse names the type in its own messages
    return parse


def _allowed(declared: list[tuple[type["Recommender"], "Param"]]) -> str:
    """What a flag allows, per model where the models differ."""
    allowed = {param.allowed for _, param in declared}
    if len(allowed) == 1:
        return allowed.pop()
    return " or ".join(f"{param.allowed} ({model.name})" for model, param in declared)


def _add_model_options(parser: argparse.ArgumentParser, multiple: bool | str = False,
                       hyperparameters: bool = True, default: str | None = None,
                       first: Sequence[str] = ()) -> None:
    """--model (or --models: ``multiple`` "all" defaults to every model, else to a pair) and,
    with ``hyperparameters``, a flag per declared parameter; ``first``: the models listed first
    and so the defaults (those opened with --bundle or --model-file); else ``default`` is
    --model's default (else the registry's first model), and the pair the measured defaults."""
    group = parser.add_argument_group("model")
    names = list(dict.fromkeys([*first, *registry.names()]))
    if multiple:
        chosen = names if multiple == "all" else list(dict.fromkeys(
            [*first, registry.default_for("related"), registry.default_for("recommend"),
             *names]))[:2]
        group.add_argument("--models", default=chosen, type=_model_list,
                           help=f"comma-separated models of {', '.join(names)} "
                                f"(default: {'all' if multiple == 'all' else ','.join(chosen)})")
    else:
        default = names[0] if first else default or registry.default_name()
        group.add_argument("--model", default=default, type=_model_name,
                           help=f"one of {', '.join(names)} (default {default})")
    for flag, declared in (model_flags() if hyperparameters else {}).items():
        group.add_argument(flag, type=_flag_type(flag, declared),
                           help=_flag_help(declared))
    group.add_argument("--engine", default="local", choices=("local", "spark"),
                       help="who trains: local (Numba, default) or spark (MLlib ALS on a local "
                            "Spark; needs Java 17+ and pip install 'tui-recs[spark]')")


def _model_name(text: str) -> str:
    if text not in registry.names():
        raise argparse.ArgumentTypeError(f"unknown model {text!r} (choose from "
                                         f"{', '.join(registry.names())})")
    return text


def _model_list(text: str) -> list[str]:
    names = [_model_name(name.strip()) for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one model")
    return names


def _count(text: str) -> int:
    """A list length: a positive integer up to MAX_RESULTS."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if not 0 < value <= MAX_RESULTS:
        raise argparse.ArgumentTypeError(f"must be a positive integer up to {MAX_RESULTS:,}, "
                                         f"not {text}")
    return value


def _min_listeners(text: str) -> int:
    """--min-listeners: a listener count from 0 (everything) up to 10 million."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"must be a whole number of listeners from 0 (show "
                                         f"everything) up to 10,000,000, not {text}")
    return value


def _add_min_listeners(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-listeners", metavar="N", type=_min_listeners,
                        default=MIN_LISTENERS, help="leave out artists with fewer listeners "
                        f"(default {MIN_LISTENERS}; 0 shows everything)")


def _fraction(text: str) -> float:
    """A share strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, not {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, not {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {MAX_SEED}, not {text}")
    return value


def build_parser(argv: Sequence[str] = (), external: Sequence[str] = ()
                 ) -> argparse.ArgumentParser:
    """The parser; the hyperparameter flags only for the command named in ``argv`` (they are
    read from the model declarations, and importing those loads numpy: ``--help``, usage
    errors and the app's start stay free of it). ``external``: the registered names of the
    models opened with --bundle / --model-file (the default models then)."""
    running = next((word for word in argv if word in COMMANDS), None)
    parser = _Parser(prog="tui-recs", description=(__doc__ or "").splitlines()[0].rstrip("."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--no-mouse", action="store_true", help="(UI) leave the mouse to the terminal")
    parser.add_argument("--fresh", action="store_true",
                        help="(UI) start clean, not where the last session left off")
    _add_data_options(parser)
    _add_external_options(parser)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def command(name: str, text: str, model: bool | str = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        _add_data_options(sub, defaults=False)
        _add_external_options(sub, defaults=False)
        if model:
            # related and recommend answer with the model measured best at each (registry),
            # unless a model trained elsewhere was opened.
            _add_model_options(sub, multiple=model if model in ("many", "all") else False,
                               hyperparameters=name == running,
                               default=registry.default_for(name), first=external)
        sub.add_argument("--json", action="store_true", help="one JSON document on stdout")
        return sub

    def listing(sub: argparse.ArgumentParser) -> None:
        """``--output-format``: the results as a table, TSV, CSV or JSON (``--format`` is the
        format of ``--data``)."""
        sub.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table",
                         help="how to print the results: a table (default), tsv or csv (one "
                              "row per result, a header line first) or json (as --json)")

    info = command("info", "describe a dataset: sizes, density, top artists")
    info.add_argument("--top", type=_count, default=10, help="how many top artists to list")

    related = command("related", "artists related to ARTIST", model=True)
    related.add_argument("artist", metavar="ARTIST", help="an artist name, typed loosely")
    related.add_argument("-n", type=_count, default=10, help="how many (default 10)")
    related.add_argument("--exact", action="store_true", help="exact search, not the index")
    _add_min_listeners(related)
    listing(related)

    recommend = command("recommend", "recommendations for listener USER, or for a new listener "
                                     "who likes the --like artists", model=True)
    recommend.add_argument("user", metavar="USER", nargs="?", help="a listener id of the dataset")
    recommend.add_argument("--like", metavar="ARTIST", action="append", default=[],
                           help="an artist a new listener likes (repeat it; instead of USER)")
    recommend.add_argument("-n", type=_count, default=10, help="how many (default 10)")
    recommend.add_argument("--explain", action="store_true",
                           help="show which listened artists led to each recommendation (ALS)")
    recommend.add_argument("--exact", action="store_true", help="exact scoring, not the index")
    _add_min_listeners(recommend)
    listing(recommend)

    compare = command("compare", "two models' answers side by side", model="many")
    compare.add_argument("artist", metavar="ARTIST", nargs="?", help="compare related artists")
    compare.add_argument("--user", metavar="USER", help="compare recommendations instead")
    compare.add_argument("-n", type=_count, default=10, help="list length (default 10)")
    _add_min_listeners(compare)
    listing(compare)

    train = command("train", "train a model (or load it from the cache) and report", model=True)
    train.add_argument("--no-index", action="store_true", help="skip the indexes")
    _add_spark_options(train)

    evaluate = command("evaluate", "measure models on held-out plays", model="all")
    evaluate.add_argument("--k", type=_count, default=10, help="cut-off K (default 10)")
    evaluate.add_argument("--split", default="holdout", choices=("holdout", "leave-k-out"),
                          help="per-listener random holdout (default) or leave-k-out")
    evaluate.add_argument("--test-fraction", type=_fraction, default=0.2,
                          help="holdout: fraction of each listener's artists held out")
    evaluate.add_argument("--leave-out", type=_count, default=1, help="leave-k-out: k")
    evaluate.add_argument("--split-seed", type=_seed,
                          help="seed of the split (default: --seed, else 0)")

    demo = commands.add_parser("demo-data", help="write the synthetic demo data as a Last.fm 360K TSV")
    demo.add_argument("out_dir", metavar="OUT_DIR", type=Path)
    demo.add_argument("--scale", default="default",
                      help="'default' (~20K listeners x 5K artists), '360k' (Last.fm 360K shape), "
                           "or a fraction such as 0.1 of the 360K shape")
    demo.add_argument("--seed", type=_seed, default=0)

    serve = commands.add_parser("serve", help="serve the app to web browsers (textual-serve), "
                                              "with the app's options",
                                description="serve the app to web browsers: each page runs "
                                            "the app with the data options given here")
    _add_data_options(serve, defaults=False)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; there "
                            "is no login, anyone who can reach it can use the app)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    serve.add_argument("--public-url", metavar="URL",
                       help="the address browsers use, if not http://HOST:PORT (a proxy, or "
                            "--host 0.0.0.0)")

    download = commands.add_parser("download", help="fetch a public dataset, check and unpack "
                                                    "it, and print the --data path to use")
    download.add_argument("dataset", metavar="DATASET", choices=DOWNLOADABLE,
                          help=f"one of {', '.join(DOWNLOADABLE)}")
    download.add_argument("--to", metavar="DIR",
                          help="where to put it (default: the user data dir, "
                               "~/.local/share/tui-recs/datasets on Linux)")
    download.add_argument("--json", action="store_true", help="one JSON document on stdout")

    cache = commands.add_parser("cache", help="inspect or clear the artifact cache",
                                description="inspect or clear the artifact cache")
    _cache_dir_option(cache)
    # One parser per action: each has at most one positional, so that options may come
    # before or after it (argparse cannot match "clear --cache-dir D KEY" otherwise).
    actions = cache.add_subparsers(dest="action", required=True, parser_class=_Parser,
                                   metavar="ACTION")
    cache_list = actions.add_parser("list", help="the entries: full keys, kinds, sizes, ages")
    cache_clear = actions.add_parser("clear", help="remove entries: KEY (or a unique prefix of "
                                                   "it; several may be given) or --all")
    cache_clear.add_argument("keys", metavar="KEY", nargs="*",
                             help="an entry's key as 'cache list' shows it, or a unique prefix")
    cache_clear.add_argument("--all", action="store_true", help="every entry")
    cache_path = actions.add_parser("path", help="where the cache is")
    for action in (cache_list, cache_clear, cache_path):
        _cache_dir_option(action)
        action.add_argument("--json", action="store_true",
                            help="one JSON document on stdout")
    return parser


def _cache_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="artifact cache location")


# ---------------------------------------------------------------------------- shared work
class Command:
    """One command: its arguments, the headless session it asks (built on first use), and
    how it shows progress."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._session: Session | None = None

    @property
    def session(self) -> "Session":
        """The core session for --data, --format, --cache-dir and --no-cache."""
        if self._session is None:
            self._session = _new_session(self.args)
        return self._session

    @property
    def dataset(self) -> "Dataset":
        """The dataset, with a progress line while it loads."""
        with _progress_line("loading data"):
            return self.session.dataset

    def artist(self, text: str) -> int:
        return self.session.artist(text)

    def user(self, text: str) -> int:
        return self.session.user(text)

    def params(self, name: str) -> dict[str, Any]:
        """Hyperparameters given on the command line that model ``name`` declares, checked
        against its declarations: a bad one is a UsageError naming the flag and what it
        allows (flags of parameters the model does not declare are left to other models)."""
        model = registry.model_class(name)
        params: dict[str, Any] = {}
        if model.capabilities.loss and sys.stderr.isatty():
            params["calculate_loss_every"] = 1  # shown with each iteration on the progress bar
        for param in model.PARAMS:
            value = getattr(self.args, param.flag[2:].replace("-", "_"), None)
            if param.effect != "reporting" and value is not None:
                params[param.name] = value
        try:
            resolve(model.PARAMS, params, name)
        except ParameterError as error:
            raise UsageError(f"tui-recs {self.args.command}: {error.for_flag()}") from None
        return params

    def check_params(self) -> None:
        """Every hyperparameter flag against the chosen models, before any work."""
        for name in getattr(self.args, "models", None) or [getattr(self.args, "model", None)]:
            if name is not None:
                self.params(name)

    def model(self, name: str, build_index: bool | str | None = None) -> "ReadyModel":
        """Model ``name`` with the command line's hyperparameters, a progress bar meanwhile."""
        with _StageProgress() as progress:
            return self.session.model(name, progress=progress, build_index=build_index,
                                      engine=self.args.engine, **self.params(name))

    def artist_row(self, item: int, rank: int | None = None, score: float | None = None) -> dict:
        dataset = self.dataset
        row = {"rank": rank, "artist": str(dataset.item_names[item]), "id": str(dataset.item_ids[item]),
               "score": None if score is None else round(float(score), 6),
               "listeners": int(dataset.item_listeners[item])}
        return {key: value for key, value in row.items() if value is not None or key == "score"}


def _new_session(args: argparse.Namespace) -> "Session":
    """The core session the parsed options describe."""
    from tui_recs.session import Session  # loads the cache code: not to parse args

    _check_encoding_has_data(args)
    if getattr(args, "bundle", None) and args.data is not None:
        raise UsageError("tui-recs: a bundle brings its own data: give --bundle or --data, "
                         "not both")
    return Session(args.data, format=args.format, encoding=args.encoding,
                   cache_dir=args.cache_dir, use_cache=not getattr(args, "no_cache", False),
                   bundles=getattr(args, "bundle", None) or (),
                   model_file=getattr(args, "model_file", None))


class _StageProgress:
    """A progress bar of pipeline stages on stderr when it is a terminal; silent otherwise."""

    WIDTH = 20

    def __enter__(self) -> Callable:
        self.enabled = sys.stderr.isatty()
        self.last = ""
        return self

    def __call__(self, stage) -> None:
        if self.enabled:
            filled = round(max(0.0, min(1.0, stage.fraction)) * self.WIDTH)
            bar = "█" * filled + "░" * (self.WIDTH - filled)
            line = f"{stage.name:>5} {bar} {stage.message}"[:119]
            sys.stderr.write("\r" + line.ljust(len(self.last)))
            sys.stderr.flush()
            self.last = line

    def __exit__(self, *exc) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\r" + " " * len(self.last) + "\r")
            sys.stderr.flush()


class _progress_line(_StageProgress):
    """A single "working…" line for steps without stages (shown only on a terminal)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __enter__(self):
        super().__enter__()
        if self.enabled:
            from tui_recs.pipeline import Stage

            self(Stage("", 0, self.message + "…"))
        return self


def _wants(args: argparse.Namespace) -> str:
    """The output format asked for: ``--json`` is ``--output-format json``."""
    return "json" if args.json else getattr(args, "output_format", "table")


def _print_records(records: Sequence[dict[str, Any]], columns: Sequence[str], kind: str) -> None:
    """``records`` as TSV or CSV on stdout: a header line of ``columns``, then one line per
    record. Cells are printable text (a tab or newline inside a name becomes U+FFFD, so a TSV
    line is always one record); CSV quotes where it must."""
    import csv

    cells = [[printable("" if record.get(c) is None else record[c]) for c in columns]
             for record in records]
    if kind == "tsv":
        for row in [list(columns), *cells]:
            print("\t".join(row))
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerows([list(columns), *cells])


#: The columns of a list of artists in TSV and CSV.
ARTIST_COLUMNS = ("rank", "artist", "id", "score", "listeners")


def _print_json(document: Any) -> None:
    """``document`` as strict JSON: NaN and infinities (a metric over no listeners, an
    index's unmeasured recall) have no JSON form and are written as null."""
    print(json.dumps(_json_safe(document), indent=2, ensure_ascii=False, allow_nan=False))


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float inside dicts, lists and tuples replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def _table(title: str | None, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]):
    """A Rich table of plain text: the title and cells (data) are never read as markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=None if title is None else Text(printable(title)), title_justify="left",
                  box=None, pad_edge=False)
    for name, justify in columns:
        table.add_column(Text(printable(name)), justify=justify)
    for row in rows:
        table.add_row(*(Text("" if cell is None else printable(cell)) for cell in row))
    return table


def _console():
    """The console the commands print on: strings are plain text (data is never read as
    markup); styles come only from Rich objects (tables, Text)."""
    from rich.console import Console

    return Console(highlight=False, markup=False)


# -------------------------------------------------------------------------------- commands
def _cmd_info(command: Command) -> int:
    summary = command.dataset.summary(top=command.args.top)
    if command.args.json:
        _print_json(summary)
        return EXIT_OK
    console = _console()
    console.print(printable(summary["source"]), style="bold")
    dropped = ", ".join(f"{k}: {v:,}" for k, v in summary["dropped_rows"].items()) or "none"
    console.print(_table(None, (("", "left"), ("", "left")), (
        ("listeners", f"{summary['users']:,}"), ("artists", f"{summary['items']:,}"),
        ("plays (nnz)", f"{summary['plays_nnz']:,}"), ("total plays", f"{summary['total_plays']:,.0f}"),
        ("density", f"{summary['density']:.4%}"), ("fingerprint", summary["fingerprint"]),
        ("dropped rows", dropped))))
    console.print()
    console.print(_table("top artists by listeners",
                         (("rank", "right"), ("artist", "left"), ("listeners", "right"), ("plays", "right")),
                         [(r["rank"], r["artist"], f"{r['listeners']:,}", f"{r['plays']:,.0f}")
                          for r in summary["top_artists"]]))
    return EXIT_OK


def _cmd_related(command: Command) -> int:
    args = command.args
    item = command.artist(args.artist)
    from tui_recs.pipeline import INDEX_IF_CACHED  # numpy and annoy: not for usage errors

    # One query: exact search (ms) answers rather than an index built first (~10 s at 290K).
    ready = command.model(args.model, build_index=INDEX_IF_CACHED)
    ids, scores, mode = command.session.related(ready, item, args.n, args.exact,
                                                args.min_listeners)
    rows = [command.artist_row(i, rank, s) for rank, (i, s) in enumerate(zip(ids, scores), 1)]
    if _wants(args) == "json":
        _print_json({"query": command.artist_row(item), "model": args.model, "mode": mode,
                     "results": rows})
        return EXIT_OK
    if _wants(args) != "table":
        _print_records(rows, ARTIST_COLUMNS, _wants(args))
        return EXIT_OK
    _console().print(_table(f"artists related to {command.dataset.item_names[item]} "
                            f"({args.model}, {mode})",
                            (("rank", "right"), ("artist", "left"), ("similarity", "right"),
                             ("listeners", "right")),
                            [(r["rank"], r["artist"], f"{r['score']:.3f}", f"{r['listeners']:,}")
                             for r in rows]))
    return EXIT_OK


def _cmd_recommend(command: Command) -> int:
    args = command.args
    if (args.user is None) == (not args.like):
        raise UsageError("tui-recs recommend: give a listener USER or --like ARTIST (one of them)")
    if args.like:
        if args.explain:
            raise UsageError("tui-recs recommend: --explain needs a listener USER, not --like")
        return _recommend_new_listener(command)
    user = command.user(args.user)
    ready = command.model(args.model)
    if args.explain and not ready.model.capabilities.explain:
        explaining = [name for name in registry.names()
                      if registry.model_class(name).capabilities.explain]
        raise UsageError(f"tui-recs: --explain needs a model that can explain "
                         f"({', '.join(explaining)}), not {args.model}")
    ids, scores, mode = command.session.recommend(ready, user, args.n, args.exact,
                                                  args.min_listeners)
    rows = [command.artist_row(i, rank, s) for rank, (i, s) in enumerate(zip(ids, scores), 1)]
    if args.explain:
        for row, item in zip(rows, ids.tolist()):
            because, contributions, _ = ready.model.explain(user, item, command.dataset.user_items, n=3)
            row["because"] = [{"artist": str(command.dataset.item_names[j]),
                               "contribution": round(float(c), 6)}
                              for j, c in zip(because, contributions)]
    history = [dict(command.artist_row(int(item), rank), plays=float(plays)) for rank, (item, plays)
               in enumerate(zip(*command.session.listener_history(user, args.n)), 1)]
    if _wants(args) == "json":
        _print_json({"user": args.user, "model": args.model, "mode": mode,
                     "listened": history, "results": rows})
        return EXIT_OK
    if _wants(args) != "table":  # the recommendations only, as in the other list formats
        for row in rows if args.explain else ():
            row["because"] = "; ".join(b["artist"] for b in row["because"])
        _print_records(rows, ARTIST_COLUMNS + (("because",) if args.explain else ()), _wants(args))
        return EXIT_OK
    console = _console()
    console.print(_table(f"{args.user} listens most to",
                         (("rank", "right"), ("artist", "left"), ("plays", "right")),
                         [(h["rank"], h["artist"], f"{h['plays']:,.0f}") for h in history]))
    console.print()
    columns = [("rank", "right"), ("artist", "left"), ("score", "right")]
    if args.explain:
        columns.append(("because you listened to", "left"))
    console.print(_table(f"recommended ({args.model}, {mode})", columns, [
        (r["rank"], r["artist"], f"{r['score']:.3f}",
         *([", ".join(b["artist"] for b in r["because"])] if args.explain else []))
        for r in rows]))
    return EXIT_OK


def _recommend_new_listener(command: Command) -> int:
    """``recommend --like A --like B``: fold a listener who likes A and B into the model."""
    args = command.args
    if not registry.model_class(args.model).capabilities.fold_in:
        folding = ", ".join(name for name in registry.names()
                            if registry.model_class(name).capabilities.fold_in)
        raise UsageError(f"tui-recs recommend: --like needs a model that folds in a new "
                         f"listener; {args.model} cannot (choose from {folding})")
    items = list(dict.fromkeys(command.artist(name) for name in args.like))
    ready = command.model(args.model)
    ids, scores = ready.recommend_history(items, args.n, min_listeners=args.min_listeners)
    liked = [command.artist_row(item) for item in items]
    rows = [command.artist_row(i, rank, s) for rank, (i, s) in enumerate(zip(ids, scores), 1)]
    if _wants(args) == "json":
        _print_json({"liked": liked, "model": args.model, "mode": "exact", "results": rows})
        return EXIT_OK
    if _wants(args) != "table":
        _print_records(rows, ARTIST_COLUMNS, _wants(args))
        return EXIT_OK
    _console().print(_table(f"recommended for someone who likes {', '.join(r['artist'] for r in liked)} "
                            f"({args.model}, exact)",
                            [("rank", "right"), ("artist", "left"), ("score", "right")],
                            [(r["rank"], r["artist"], f"{r['score']:.3f}") for r in rows]))
    return EXIT_OK


def _cmd_compare(command: Command) -> int:
    args = command.args
    if (args.artist is None) == (args.user is None):
        raise UsageError("tui-recs compare: give an ARTIST or --user USER (one of them)")
    if len(args.models) != 2:
        raise UsageError(f"tui-recs compare: --models takes two models, got {len(args.models)}")
    left_name, right_name = args.models
    if args.artist is not None:
        query = {"artist": command.artist(args.artist)}
        subject = {"artist": command.artist_row(query["artist"])}
        title = f"related to {command.dataset.item_names[query['artist']]}"
    else:
        query = {"user": command.user(args.user)}
        subject = {"user": args.user}
        title = f"recommended for {args.user}"
    comparison, (left_ids, left_scores), (right_ids, right_scores) = command.session.compare(
        command.model(left_name), command.model(right_name), n=args.n,
        min_listeners=args.min_listeners, **query)
    names = command.dataset.item_names
    records = [{"artist": str(names[row.item]), f"{left_name}_rank": row.left_rank,
                f"{right_name}_rank": row.right_rank, "change": row.change}
               for row in comparison.rows]
    if _wants(args) == "json":
        _print_json({**subject, "models": [left_name, right_name], "n": args.n,
                     "overlap": comparison.overlap, "rank_correlation": comparison.rank_correlation,
                     left_name: [command.artist_row(i, r, s) for r, (i, s) in
                                 enumerate(zip(left_ids, left_scores), 1)],
                     right_name: [command.artist_row(i, r, s) for r, (i, s) in
                                  enumerate(zip(right_ids, right_scores), 1)],
                     "rows": records})
        return EXIT_OK
    if _wants(args) != "table":  # one line per artist in either list, with both ranks
        _print_records(records, ("artist", f"{left_name}_rank", f"{right_name}_rank", "change"),
                       _wants(args))
        return EXIT_OK
    rows = []
    for rank in range(comparison.n):
        left = comparison.left[rank] if rank < len(comparison.left) else None
        right = comparison.right[rank] if rank < len(comparison.right) else None
        right_of_left = next((r.right_rank for r in comparison.rows if r.item == left), None)
        rows.append((rank + 1, names[left] if left is not None else "",
                     "—" if right_of_left is None else f"→ {right_of_left}",
                     names[right] if right is not None else ""))
    rho = comparison.rank_correlation
    _console().print(_table(
        f"{title}: {left_name} vs {right_name} — overlap@{args.n} {comparison.overlap:.0%}, "
        f"rank correlation {'n/a' if rho is None else f'{rho:.2f}'}",
        (("rank", "right"), (left_name, "left"), (f"rank in {right_name}", "left"),
         (right_name, "left")), rows))
    return EXIT_OK


def _cmd_train(command: Command) -> int:
    from rich.text import Text

    args = command.args
    if args.engine == "spark":
        return _train_spark(command)
    if args.master is not None or args.spark_conf or args.spark_checkpoint is not None:
        raise UsageError("tui-recs train: --master, --spark-conf and --spark-checkpoint go with "
                         "--engine spark")
    ready = command.model(args.model, build_index=False if args.no_index else None)
    info = {"model": args.model, "engine": ready.engine, "params": ready.params,
            "fit_seconds": ready.info.get("fit_seconds"),
            "from_cache": bool(ready.info.get("from_cache")),
            "loss_history": ready.info.get("loss_history", []),
            "curves": ready.info.get("curves", {}), "similar_mode": ready.similar_mode,
            "recommend_mode": ready.recommend_mode.mode if ready.recommend_mode else "exact",
            "index": ready.info.get("index")}
    if args.json:
        if args.output is not None:
            info["bundle"] = str(_write_bundle(command, ready).parent)
        _print_json(info)
        return EXIT_OK
    console = _console()
    seconds = info["fit_seconds"]
    when = f"{seconds:.2f} s" if seconds is not None else None
    if info["from_cache"]:
        done = "loaded from the cache" + (f" (trained in {when} when built; " if when else " (")
    else:
        done = f"trained in {when} (" if when else "ready ("
    console.print(Text.assemble((args.model, "bold"), printable(
        f" on {command.dataset.source}: {done}engine {ready.engine})")))
    console.print(printable("  " + ", ".join(f"{k}={v}" for k, v in ready.params.items())))
    if info["loss_history"]:
        console.print("  loss: " + " → ".join(f"{loss:.4g}" for loss in info["loss_history"]))
    for measure, values in info["curves"].items():  # per epoch: first → last
        console.print(printable(f"  {measure}: {values[0]:.4g} → {values[-1]:.4g} "
                                f"({len(values)} epochs)"))
    console.print(printable(f"  related artists: {ready.describe_similar()}"))
    if ready.recommend_mode is not None:
        console.print(printable(f"  recommendations: {ready.recommend_mode.mode} "
                                f"({ready.recommend_mode.reason})"))
    if args.output is not None:
        console.print(printable(f"  bundle: {_write_bundle(command, ready).parent}"))
    return EXIT_OK


def _write_bundle(command: Command, ready: "ReadyModel") -> Path:
    """``train --output DIR``: the trained model as a bundle (factor models only)."""
    from tui_recs.bundle import write_bundle
    from tui_recs.models.base import FactorModel

    if not isinstance(ready.model, FactorModel):
        raise UsageError(f"tui-recs train: --output writes factor models; {ready.name} is not one")
    with _progress_line(f"writing the bundle to {command.args.output}"):
        return write_bundle(Path(command.args.output), command.dataset, ready.model,
                            engine=ready.engine)


# ------------------------------------------------------------------ train --engine spark
def _add_spark_options(train: argparse.ArgumentParser) -> None:
    train.add_argument("--output", metavar="DIR",
                       help="write the trained model as a bundle into DIR (new or empty; open "
                            "it with --bundle DIR); with --engine spark a path or any URI Spark "
                            "writes, by default in the cache")
    group = train.add_argument_group("spark (with --engine spark: writes a model bundle)")
    group.add_argument("--master", metavar="URL",
                       help="Spark master (default local[*]; spark://, yarn, k8s:// ...)")
    group.add_argument("--spark-conf", metavar="KEY=VALUE", action="append", default=[],
                       type=_spark_setting, help="a Spark setting (repeat it)")
    group.add_argument("--spark-checkpoint", metavar="DIR",
                       help="checkpoint ALS's factors into DIR every 10 iterations (shared "
                            "storage on a cluster; for many iterations: docs/spark.md)")


def _spark_setting(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key.strip(), value


def _train_spark(command: Command) -> int:
    """Spark reads --data itself, trains MLlib ALS and writes a bundle (docs/spark.md)."""
    from rich.text import Text

    from tui_recs.cache.location import resolve_cache_dir
    from tui_recs.pipeline import resolved_params
    from tui_recs.spark.bundle import BundleExists
    from tui_recs.spark.job import train_bundle

    args = command.args
    if args.model != "als":
        raise UsageError(f"tui-recs train: the spark engine trains als, not {args.model}")
    if args.data is None:
        raise UsageError("tui-recs train: --engine spark reads --data PATH itself (for the "
                         "demo data: tui-recs demo-data DIR, then --data DIR/...)")
    if args.encoding not in (None, "utf-8", "utf_8"):
        raise UsageError("tui-recs train: the spark engine reads UTF-8 (convert the data "
                         "first, e.g. with iconv)")
    params = resolved_params("als", command.params("als"))
    try:
        with _StageProgress() as progress:
            trained = train_bundle(args.data, params,
                                   cache_root=resolve_cache_dir(args.cache_dir),
                                   output=args.output, format=args.format, master=args.master,
                                   conf=dict(args.spark_conf), progress=progress,
                                   checkpoint_dir=args.spark_checkpoint)
    except BundleExists as error:
        raise UsageError(f"tui-recs train: {error}") from None
    manifest = trained.manifest
    if args.json:
        _print_json({"bundle": trained.directory, "reused": trained.reused,
                     "log": None if trained.log is None else str(trained.log), **manifest})
        return EXIT_OK
    shape, spark = manifest["shape"], manifest.get("spark", {})
    console = _console()
    console.print(Text.assemble(("als", "bold"), printable(
        f" on {manifest['source']}: " + ("bundle found in the cache" if trained.reused else
                                         f"trained in {spark.get('fit_seconds', 0):.2f} s")
        + f" (engine spark, {spark.get('master', '?')})")))
    console.print(printable(f"  {shape['users']:,} listeners × {shape['items']:,} artists, "
                            f"{shape['plays']:,} plays; regParam {spark.get('regParam', 0):.4g} "
                            f"(from regularization {params['regularization']:g})"))
    console.print(printable(f"  bundle: {trained.directory}"))
    return EXIT_OK


def _cmd_evaluate(command: Command) -> int:
    args = command.args
    if args.split_seed is None:
        args.split_seed = args.seed if args.seed is not None else 0
    params = {name: command.params(name) for name in args.models}
    with _progress_line(f"evaluating {', '.join(params)}"):
        table, _ = command.session.evaluate(params, args.k, split=args.split,
                                            test_fraction=args.test_fraction,
                                            leave_out=args.leave_out, seed=args.split_seed,
                                            engine=args.engine)
    if args.json:
        _print_json({"k": args.k, "split": args.split, "split_seed": args.split_seed,
                     "rows": table})
        return EXIT_OK
    columns = [key for key in table[0] if key != "model"]
    _console().print(_table(f"evaluation at K={args.k} ({args.split}, seed {args.split_seed})",
                            [("model", "left")] + [(_heading(c, args.k), "right") for c in columns],
                            [[row["model"]] + [_metric(c, row[c]) for c in columns]
                             for row in table]))
    return EXIT_OK


#: Evaluation columns: row key -> (heading, format); "{k}" is the cut-off. Short, so that the
#: table fits 80 columns; the JSON keys are the full names.
METRIC_COLUMNS = {
    "precision": ("P@{k}", "{:.4f}"), "recall": ("R@{k}", "{:.4f}"), "map": ("MAP@{k}", "{:.4f}"),
    "ndcg": ("NDCG@{k}", "{:.4f}"), "auc": ("AUC", "{:.4f}"), "coverage": ("cov", "{:.1%}"),
    "popularity": ("pop", "{:.1%}"), "fit_seconds": ("fit s", "{:.2f}"),
    "query_ms": ("ms/q", "{:.2f}"), "rmse": ("RMSE", "{:.3f}"),
}


def _heading(key: str, k: int) -> str:
    return METRIC_COLUMNS[key][0].format(k=k) if key in METRIC_COLUMNS else key


def _metric(key: str, value: Any) -> str:
    if value is None:  # a column that does not apply to this row (rmse)
        return ""
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return "n/a"
    return (METRIC_COLUMNS[key][1] if key in METRIC_COLUMNS else "{:.4f}").format(value)


def _cmd_demo_data(command: Command) -> int:
    from tui_recs.data.synthetic import scale_options, write_lastfm360k

    args = command.args
    print(printable(write_lastfm360k(args.out_dir, seed=args.seed, **scale_options(args.scale))))
    return EXIT_OK


def _cmd_cache(command: Command) -> int:
    args = command.args
    root, store = command.session.cache_root, command.session.store
    if store is None:
        raise UsageError("tui-recs cache: there is no cache with --no-cache")
    if args.action == "path":
        if args.json:
            _print_json({"path": str(root)})
        else:
            print(printable(root))
        return EXIT_OK
    if args.action == "clear":
        return _clear_cache(args, store, root)
    rows = store.describe_entries()
    if args.json:
        _print_json({"path": str(root), "entries": rows})
        return EXIT_OK
    from rich.table import Table
    from rich.text import Text

    total = sum(row["size_bytes"] for row in rows)
    table = Table(title=Text(printable(f"{root}: {counted(len(rows), 'entry', 'entries')}, "
                                       f"{_size(total)}")),
                  title_justify="left", box=None, pad_edge=False)
    # The key is what 'cache clear' takes: never cut; the inputs give way instead.
    table.add_column("key", no_wrap=True, min_width=max((len(r["key"]) for r in rows), default=3))
    table.add_column("kind", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("age", justify="right", no_wrap=True)
    table.add_column("inputs")  # wrappable, so the others keep their width; cut (below)
    now = _now()
    for row in rows:
        inputs = json.dumps(row["inputs"], separators=(",", ":"), ensure_ascii=False)
        table.add_row(*(Text(printable(cell)) for cell in (
            row["key"], row["kind"], _size(row["size_bytes"]), _age(row["created_at"], now))),
            Text(printable(inputs), no_wrap=True, overflow="ellipsis"))
    _console().print(table)
    return EXIT_OK


def _clear_cache(args: argparse.Namespace, store: "ArtifactStore", root: Path) -> int:
    """``cache clear KEY...`` (full keys or unique prefixes) or ``cache clear --all``."""
    if args.all == bool(args.keys):
        raise UsageError("tui-recs cache clear: give a KEY or --all (one of them)")
    if args.all:
        removed = store.clear()
    else:
        keys = [row["key"] for row in store.describe_entries()]
        targets = list(dict.fromkeys(_full_key(text, keys) for text in args.keys))
        for key in targets:  # an unknown one: the store's one-line error
            store.remove(key)
        removed = len(targets)
    if args.json:
        _print_json({"path": str(root), "removed": removed})
    else:
        print(printable(f"removed {counted(removed, 'entry', 'entries')} from {root}"))
    return EXIT_OK


def _full_key(text: str, keys: Sequence[str]) -> str:
    """The key ``text`` names: itself, or the one key it is a prefix of. Several keys starting
    with it is a usage error listing them; none is left to the store (which says so)."""
    if text in keys or not text:
        return text
    matches = [key for key in keys if key.startswith(text)]
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (f" and {len(matches) - 5} more" if len(matches) > 5 else "")
        raise UsageError(f"tui-recs cache clear: {text!r} is the start of {len(matches)} keys "
                         f"({shown}); give more of it")
    return matches[0] if matches else text


def _size(size: int) -> str:
    """Bytes for people: "812 B", "3.4 KiB", "1.2 MiB", "2.0 GiB"."""
    value, unit = float(size), "B"
    for larger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{size:,} B" if unit == "B" else f"{value:,.1f} {unit}"


def _now() -> "datetime":
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _age(created_at: str, now: "datetime") -> str:
    """How long ago an ISO 8601 time was: "12 s", "5 min", "3 h", "2 d"; "?" if unreadable
    (a manifest is untrusted) and "0 s" for a time in the future (a clock that moved)."""
    from datetime import datetime, timezone

    try:
        created = datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        return "?"
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    seconds = max(0, int((now - created).total_seconds()))
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds // length} {unit}"
    return f"{seconds} s"


def _cmd_download(command: Command) -> int:
    from tui_recs.data.download import ARCHIVES, download
    from tui_recs.pipeline import Stage

    args = command.args
    archive = ARCHIVES[args.dataset]
    folder = args.to or _default_download_dir()
    with _StageProgress() as progress:
        def report(done: int, total: int | None) -> None:
            size = f"{done / 2**20:,.1f}" + (f" of {total / 2**20:,.1f} MiB" if total else " MiB")
            progress(Stage("get", done / total if total else 0.0,
                           f"{archive.filename}: {size}"))

        result = download(archive, folder, report)
    verified = result.sha256 is not None and result.sha256 == archive.sha256
    if args.json:
        _print_json({"dataset": archive.name, "data": str(result.data), "url": archive.url,
                     "sha256": result.sha256, "sha256_verified": verified,
                     "fetched": result.fetched, "source": archive.source})
        return EXIT_OK
    if result.sha256 is None:
        check = "already downloaded"
    elif verified:
        check = "SHA-256 verified"
    else:  # no digest is published to compare with: say what was fetched
        check = f"SHA-256 {result.sha256} (none published to compare; size checked)"
    print(printable(f"tui-recs: {archive.name} at {result.data}: {check}; use it with "
                    f"'tui-recs --data {result.data}'"), file=sys.stderr)
    print(printable(result.data))
    return EXIT_OK


def _cmd_serve(command: Command) -> int:
    from tui_recs.app.serve import LOOPBACK, serve

    args = command.args
    _check_encoding_has_data(args)
    if args.host not in LOOPBACK:
        print(printable(f"tui-recs: warning: serving on {args.host}: there is no login, anyone "
                        "who can reach it can use the app"), file=sys.stderr)
    serve(_app_argv(args), host=args.host, port=args.port, public_url=args.public_url)
    return EXIT_OK


def _app_argv(args: argparse.Namespace) -> list[str]:
    """The command line that starts the app with the options in ``args``: every option of the
    top-level parser (the app's) that differs from its default, as it would be typed."""
    argv: list[str] = []
    for action in build_parser()._actions:
        if not action.option_strings or action.dest in ("help", "version", "debug"):
            continue
        value = getattr(args, action.dest, action.default)
        if value == action.default or value is None:
            continue
        if action.nargs == 0:  # a flag
            argv.append(action.option_strings[-1])
        else:
            for each in value if isinstance(value, list) else [value]:
                argv += [action.option_strings[-1], str(each)]
    return argv


def _default_download_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("tui-recs")) / "datasets"


COMMANDS: dict[str, Callable[[Command], int]] = {
    "info": _cmd_info, "related": _cmd_related, "recommend": _cmd_recommend,
    "compare": _cmd_compare, "train": _cmd_train, "evaluate": _cmd_evaluate,
    "demo-data": _cmd_demo_data, "cache": _cmd_cache, "download": _cmd_download,
    "serve": _cmd_serve,
}


def _check_encoding_has_data(args: argparse.Namespace) -> None:
    if args.encoding is not None and args.data is None:
        raise UsageError("tui-recs: --encoding applies to --data PATH, not to the demo data")


def _run_app(args: argparse.Namespace) -> int:
    from tui_recs.app.terminal import refusal

    _check_encoding_has_data(args)
    # Under textual-serve (tui-recs serve) the terminal is a web page, reached through pipes.
    served = os.environ.get("TEXTUAL_DRIVER", "").startswith("textual.drivers.web_driver")
    problem = None if served else refusal(os.isatty(0), os.isatty(1), os.environ)
    if problem:  # before textual starts: it would draw into a pipe and spin on its end
        raise UsageError(problem)
    import tui_recs.app as app

    external = {key: value for key, value in (("bundles", args.bundle),
                                              ("model_file", args.model_file)) if value}
    return app.run(data=args.data, format=args.format, cache_dir=args.cache_dir,
                   use_cache=not args.no_cache, mouse=not args.no_mouse, encoding=args.encoding,
                   fresh=args.fresh, **external)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("TUI_RECS_DEBUG"))
    show_warning = warnings.showwarning
    warnings.showwarning = lambda message, *rest: print(
        printable(f"tui-recs: warning: {message}"), file=sys.stderr)
    try:
        session = _external_session(argv)
        external = list(session.external_models) if session is not None else []
        args = build_parser(argv, external).parse_args(argv)
        if args.command is None:
            return _run_app(args)
        command = Command(args)
        command._session = session
        command.check_params()
        return COMMANDS[args.command](command)
    except ParameterError as error:  # a value that does not fit the data (LSA factors)
        if debug:
            raise
        print(f"tui-recs: {error.for_flag()}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as error:
        if debug:
            raise
        print(printable(error), file=sys.stderr)
        return EXIT_USAGE
    except TuiRecsError as error:
        if debug:
            raise
        print(printable(f"tui-recs: error: {error}"), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tui-recs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (``| head``) left: say nothing more, and keep Python's exit-time flush quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        warnings.showwarning = show_warning
