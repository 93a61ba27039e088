"""The open model registry and the hyperparameter declarations: one declaration per model
drives validation, the cache key, the command line and the app; a model added as one module
plus one registration line appears everywhere."""

from __future__ import annotations

import json
import math
import re

import pytest

from tui_recs.app.state import AUTO
from tui_recs.cli import main
from tui_recs.models import registry
from tui_recs.models.params import Param, ParameterError, key_params, resolve


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- declarations
@pytest.mark.parametrize("name", registry.names())
def test_every_model_rebuilds_from_its_declared_defaults(name):
    model = registry.create(name)
    params = model.get_params()
    assert list(params) == [param.name for param in model.PARAMS]
    assert registry.create(name, **params).get_params() == params
    for param in model.PARAMS:
        assert param.check(param.default, name) == param.default  # defaults are allowed values


@pytest.mark.parametrize("name", [n for n in registry.names()
                                  if any(p.name == "random_state" for p in
                                         registry.model_class(n).PARAMS)])
def test_seeds_default_to_a_fixed_value(name):
    assert registry.create(name).random_state == 0


@pytest.mark.parametrize("value, allowed", [
    (math.nan, False), (math.inf, False), (-1.0, False), (1e30, False), (0.0, True),
    (2, True), ("2", False), (True, False), (None, False)])
def test_a_number_is_checked_for_type_finiteness_and_range(value, allowed):
    param = Param("regularization", float, 1.0, "penalty", low=0, high=1e6)
    if allowed:
        assert param.check(value, "m") == float(value)
    else:
        with pytest.raises(ParameterError, match="regularization must be a finite number >= 0"):
            param.check(value, "m")


def test_choices_integers_and_optional_values():
    solver = Param("solver", str, "a", "how", choices=("a", "b"))
    with pytest.raises(ParameterError, match="solver must be one of a, b"):
        solver.check("c", "m")
    steps = Param("steps", int, 3, "how many", low=1, high=10)
    assert steps.check(4.0, "m") == 4
    for bad in (4.5, 0, 11):
        with pytest.raises(ParameterError, match="an integer from 1 to 10"):
            steps.check(bad, "m")
    threads = Param("num_threads", int, None, "threads", low=1, high=8, optional=True,
                    none_means="all cores", cli_name="threads")
    assert threads.check(None, "m") is None and threads.parse(" ") is None
    assert threads.flag == "--threads" and "or none (all cores)" in threads.allowed


def test_an_undeclared_name_is_refused_with_the_declared_ones():
    with pytest.raises(Exception, match="lsa has no hyperparameter 'alpha' .*factors"):
        registry.create("lsa", alpha=1.0)


def test_only_what_changes_the_model_is_in_the_cache_key():
    als = registry.model_class("als")
    quiet = resolve(als.PARAMS, {}, "als")
    busy = resolve(als.PARAMS, {"num_threads": 1, "calculate_loss_every": 1}, "als")
    assert key_params(als.PARAMS, quiet) == key_params(als.PARAMS, busy)
    assert "random_state" in key_params(als.PARAMS, quiet)
    assert key_params(als.PARAMS, quiet) != key_params(
        als.PARAMS, resolve(als.PARAMS, {"random_state": 1}, "als"))


# ------------------------------------------------------------------- the command line
@pytest.mark.parametrize("args, message", [
    (["train", "--regularization", "nan"], "--regularization: must be a finite number >= 0"),
    (["train", "--regularization", "inf"], "--regularization: must be a finite number >= 0"),
    (["train", "--regularization", "1e30"], "--regularization must be a finite number >= 0 and "
                                            "<= 1000000 for als"),
    (["train", "--bm25-k1", "nan"], "--bm25-k1: must be a finite number >= 0"),
    (["train", "--model", "lsa", "--bm25-k1", "nan"], "--bm25-k1: must be a finite number"),
    (["train", "--alpha", "nan"], "--alpha: must be a finite number > 0"),
    (["train", "--seed", "-1"], "--seed must be an integer from 0 to 4294967295 for als"),
    (["train", "--model", "lsa", "--solver", "cg"], "--solver must be one of lanczos, propack, "
                                                    "arpack for lsa (got cg)"),
    (["train", "--solver", "lanczos"], "--solver must be one of cg, cholesky for als"),
    (["related", "x", "-n", "1000000000000"], "-n: must be a positive integer up to 10,000"),
    (["evaluate", "--test-fraction", "nan"], "--test-fraction: must be a number between 0 and 1"),
])
def test_bad_options_are_usage_errors_before_any_work(capsys, cache_root, args, message):
    code, out, err = run_cli(capsys, "--data", "/nonexistent/plays.csv", *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_lsa_factors_must_stay_below_the_smaller_side(capsys, cache_root, small_plays_csv):
    code, _, err = run_cli(capsys, "--data", str(small_plays_csv), "train", "--model", "lsa",
                           "--factors", "60")
    assert code == 2
    assert re.search(r"--factors must be below (\d+), the smaller side of the data "
                     r"\(150 listeners × \1 artists\) for lsa \(got 60\)", err)


def test_lsa_factors_limit_on_hetrec(capsys, cache_root, hetrec):
    code, _, err = run_cli(capsys, "--data", str(hetrec), "train", "--model", "lsa",
                           "--factors", "1892")
    assert code == 2 and "--factors must be below 1,892" in err


def test_solver_help_lists_each_models_solvers(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "one of cg, cholesky" in help_text and "one of lanczos, propack, arpack" in help_text


def test_evaluate_without_a_seed_gives_the_same_numbers_twice(capsys, cache_root,
                                                              small_plays_csv):
    args = ["--data", str(small_plays_csv), "evaluate", "--models", "als,lsa", "--factors", "4",
            "--iterations", "2", "--json"]
    first, second = (json.loads(run_cli(capsys, *args)[1]) for _ in range(2))
    strip = lambda doc: [{k: v for k, v in row.items() if k not in ("fit_seconds", "query_ms")}
                         for row in doc["rows"]]  # noqa: E731
    assert strip(first) == strip(second)


def test_json_output_never_holds_nan(capsys):
    from tui_recs.cli import _print_json

    _print_json({"loss": [1.0, math.nan], "recall": math.inf, "name": "x"})
    assert json.loads(capsys.readouterr().out) == {"loss": [1.0, None], "recall": None,
                                                   "name": "x"}


@pytest.mark.parametrize("name", ["bm25", "tfidf", "cosine"])
def test_item_knn_answers_through_the_command_line(capsys, cache_root, small_plays_csv, name):
    code, out, _ = run_cli(capsys, "--data", str(small_plays_csv), "related", "artist 3",
                           "--model", name, "-n", "5", "--json")
    assert code == 0 and json.loads(out)["model"] == name
    assert len(json.loads(out)["results"]) == 5
    code, out, _ = run_cli(capsys, "--data", str(small_plays_csv), "recommend", "u3",
                           "--model", name, "--json")
    assert code == 0 and len(json.loads(out)["results"]) == 10
    code, out, _ = run_cli(capsys, "--data", str(small_plays_csv), "evaluate", "--models",
                           name, "--json")
    assert code == 0 and [row["model"] for row in json.loads(out)["rows"]] == [name, "popularity"]


# ------------------------------------------------------- a model added in one module
def test_a_registered_model_is_in_the_command_line_help(capsys, tiny_model):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "one of als, lsa, popularity, bm25, tfidf, cosine, bpr, lmf, sgd-mf, tiny" in help_text
    assert "--spread SPREAD scale of the random scores (default 1.0; Tiny)" in help_text


def test_a_registered_model_is_in_the_evaluation_table(capsys, cache_root, small_plays_csv,
                                                       tiny_model):
    code, out, _ = run_cli(capsys, "--data", str(small_plays_csv), "evaluate", "--models",
                           "tiny", "--spread", "2", "--json")
    assert code == 0
    assert [row["model"] for row in json.loads(out)["rows"]] == ["tiny", "popularity"]
    code, _, err = run_cli(capsys, "--data", str(small_plays_csv), "evaluate", "--models",
                           "tiny", "--spread", "0")
    assert code == 2 and "--spread must be a finite number > 0 and <= 100 for tiny" in err


@pytest.mark.slow
async def test_a_registered_model_is_in_the_apps_pickers(tmp_path, tiny_model):
    from test_app import make_app, settle

    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "tiny" in app.models
        names = registry.names()
        assert app.preferred == AUTO and names[-1] == "tiny"
        await pilot.press("escape", *["m"] * len(names))  # auto, then each in turn
        assert app.preferred == "tiny"
        assert "model Tiny" in str(app.screen.query_one("#view-model").render())
        await pilot.press("m")
        assert app.preferred == AUTO
        await pilot.press("4")
        table = app.screen.query_one("#models-table")
        assert [key.value for key in table.rows] == ["als", "lsa", "popularity", "bm25",
                                                     "tfidf", "cosine", "bpr", "lmf", "sgd-mf",
                                                     "tiny"]
        assert app.compare_pair == ["bm25", "als"]  # the measured defaults
        await pilot.press("3", *["left_square_bracket"] * (names.index("tiny") - 3))
        assert app.compare_pair == ["tiny", "als"]
        await pilot.press("left_square_bracket")
        assert app.compare_pair == ["lsa", "als"]  # the right side's model is skipped


@pytest.mark.slow
async def test_cancel_at_start_then_retrain_keeps_every_default(tmp_path):
    """Esc on the loading view cancels ALS; retraining it from the Models view offers the
    declared defaults (seed 0 included) and trains the model the next start looks up."""
    from test_app import SMALL_MODELS, make_app, settle, until

    from tui_recs.pipeline import model_inputs, resolved_params

    slow = {**SMALL_MODELS, "als": {"factors": 8, "iterations": 10_000, "num_threads": 1}}
    app = make_app(tmp_path, model_params=slow)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.jobs.get("als") is not None and app.jobs["als"].losses)
        await pilot.press("escape")
        await settle(pilot)
        assert app.jobs["als"].status == "cancelled"
        await pilot.press("escape", "4")
        assert app.screen.selected == "als"
        await pilot.press("t")
        dialog = app.screen
        assert dialog.query_one("#param-random_state").value == "0"
        assert dialog.query_one("#param-iterations").value == "10000"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.jobs["als"].running)
        submitted = app.jobs["als"].params
        assert submitted["random_state"] == 0
        expected = resolved_params("als", slow["als"])
        assert (model_inputs(app.dataset, "als", resolved_params("als", submitted))
                == model_inputs(app.dataset, "als", expected))
        app.cancel_jobs("als")


def test_the_parameter_table_in_docs_is_current():
    from pathlib import Path

    from tui_recs.models.parameter_table import markdown

    table = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
    assert table.read_text(encoding="utf-8") == markdown(), (
        "regenerate: python -m tui_recs.models.parameter_table > docs/parameters.md")


def test_related_and_recommend_answer_with_their_measured_defaults(capsys, cache_root,
                                                                    small_plays_csv):
    assert registry.default_for("related") == "bm25"
    assert registry.default_for("recommend") == "als"
    assert registry.default_for("train") == registry.default_name()
    code, out, _ = run_cli(capsys, "--data", str(small_plays_csv), "related", "artist 3",
                           "--json")
    assert code == 0 and json.loads(out)["model"] == "bm25"
    code, out, _ = run_cli(capsys, "--data", str(small_plays_csv), "recommend", "u3", "--json",
                           "--factors", "4", "--iterations", "2")
    assert code == 0 and json.loads(out)["model"] == "als"
