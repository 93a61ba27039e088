"""View 4: the models — hyperparameters, training, loss, cache, index — and their evaluation."""

from __future__ import annotations

from typing import Any, Iterable

from textual import on
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from tui_recs.text import markup_safe
from textual.widget import Widget
from textual.widgets import DataTable, Sparkline, Static

from tui_recs.app.state import AUTO, model_for, model_title
from tui_recs.app.views.base import ViewScreen, lookup_label
from tui_recs.app.views.retrain import RetrainScreen, editable
from tui_recs.models import registry
from tui_recs.models.engine import engine
from tui_recs.app.widgets.curves import CurvesPlot
from tui_recs.app.widgets.progress import JobProgress, loss_line

#: Evaluation columns: row key -> (heading, format).
METRICS = {
    "precision": ("P@k", "{:.3f}"), "recall": ("R@k", "{:.3f}"), "map": ("MAP", "{:.3f}"),
    "ndcg": ("NDCG", "{:.3f}"), "auc": ("AUC", "{:.3f}"), "coverage": ("cover", "{:.1%}"),
    "popularity": ("pop", "{:.1%}"), "fit_seconds": ("fit s", "{:.1f}"),
    "query_ms": ("ms/q", "{:.2f}"),
    # Only for models that predict play counts (SGD-MF); blank for the others.
    "rmse": ("RMSE", "{:.4f}"),
}


class ModelsScreen(ViewScreen):
    """Each model's state, hyperparameters, fit time, loss per iteration, cache entry, index
    recall and lookup mode; retrain with edited hyperparameters in the background; run the
    evaluation and read it against the popularity baseline."""

    VIEW = "models"
    AUTO_FOCUS = "#models-table"
    BINDINGS = [
        Binding("u", "use", "Use", id="models.use"),
        Binding("t", "retrain", "Retrain…", id="models.retrain"),
        Binding("x", "cancel", "Cancel training", id="models.cancel"),
        Binding("e", "evaluate", "Evaluate", id="models.evaluate"),
    ]
    #: (highlighted model training, evaluation running): which keys apply.
    _keys_for: tuple[bool, bool] | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="models-body", classes="view-body"):
            yield DataTable(id="models-table", cursor_type="row")
            with VerticalScroll(id="model-detail"):
                yield Static(id="model-params")
                yield JobProgress("als", hide_when_done=True, id="model-job")
                yield Static(id="model-loss-line")
                yield Sparkline([], id="model-loss")
                yield CurvesPlot(id="model-curves")
                yield Static(id="model-facts")
            yield Static(id="evaluation-title", classes="section-title")
            yield JobProgress("evaluate", hide_when_done=True, id="evaluation-job")
            yield DataTable(id="evaluation", cursor_type="none")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "jobs_version", self._follow_jobs, init=False)
        table = self.query_one("#models-table", DataTable)
        for key, heading in (("model", "model"), ("status", "status"), ("fit", "fit s"),
                             ("related", "related artists"), ("recommend", "recommend"),
                             ("use", "in use")):
            table.add_column(heading, key=key)
        for name in registry.names():
            table.add_row(*([""] * 6), key=name)
        self._follow_jobs()

    @property
    def selected(self) -> str:
        """The highlighted model's name."""
        table = self.query_one("#models-table", DataTable)
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value

    def _status(self, name: str) -> str:
        job = self.app.jobs.get(name)
        ready = name in self.app.models
        if job is not None and job.running:
            share = f" {job.fraction:.0%}" if job.fraction else ""
            return f"{'retraining' if ready else 'training'}{share}"
        if ready:
            return "ready"
        return job.status if job is not None else "—"

    def _follow_jobs(self) -> None:
        """Keep the status column current while jobs run (the rest changes with the models)."""
        table = self.query_one("#models-table", DataTable)
        for name in registry.names():
            table.update_cell(name, "status", self._status(name), update_width=True)
        keys_for = (self._job_running(self.selected), self._job_running("evaluate"))
        if keys_for != self._keys_for:
            self._keys_for = keys_for
            self.refresh_bindings()

    def _job_running(self, key: str) -> bool:
        job = self.app.jobs.get(key)
        return job is not None and job.running

    def refresh_view(self) -> None:
        app = self.app
        key = (app.models_version, app.preferred, self.selected)
        if key == self._shown:
            return
        self._shown = key
        table = self.query_one("#models-table", DataTable)
        auto = {model_for(AUTO, question) for question in ("related", "recommend")}
        for name in registry.names():
            ready = app.models.get(name)
            fit = ready.info.get("fit_seconds") if ready is not None else None
            mode = ready.recommend_mode.mode if ready is not None and ready.recommend_mode else "exact"
            cells = {"model": model_title(name), "status": self._status(name),
                     "fit": f"{fit:.1f}" if fit is not None else "—",
                     "related": lookup_label(ready) if ready is not None else "—",
                     "recommend": mode if ready is not None else "—",
                     "use": "●" if name == app.preferred else (
                         "auto" if app.preferred == AUTO and name in auto else "")}
            for column, value in cells.items():
                table.update_cell(name, column, value, update_width=True)
        self._show_detail(self.selected)
        self._show_evaluation()

    def _show_detail(self, name: str) -> None:
        app = self.app
        ready = app.models.get(name)
        job = app.jobs.get(name)
        params = ready.params if ready is not None else (job.params if job is not None else {})
        shown = editable(name, params)
        self.query_one("#model-params", Static).update(
            f"[b]{model_title(name)}[/b]  " + (" · ".join(f"{key} [b]{value}[/b]"
                                                      for key, value in shown.items())
                                               or "[dim]no hyperparameters[/dim]"))
        self.query_one("#model-job", JobProgress).follow(name)
        losses = list(ready.info.get("loss_history") or []) if ready is not None else []
        loss = self.query_one("#model-loss-line", Static)
        loss.display = bool(losses)
        loss.update(f"{loss_line(losses)}, fit in {ready.info.get('fit_seconds', 0):.1f} s"
                    if losses else "")
        sparkline = self.query_one("#model-loss", Sparkline)
        sparkline.display = len(losses) > 1
        sparkline.data = losses
        self.query_one("#model-curves", CurvesPlot).show(
            dict(ready.info.get("curves") or {}) if ready is not None else {})
        self.query_one("#model-facts", Static).update(
            f"{self._cache_line(ready)}\n{self._index_line(ready)}" if ready is not None else "")

    def _cache_line(self, ready: Any) -> str:
        store = self.app.store
        if store is None:
            return "cache: off (--no-cache)"
        from tui_recs.pipeline import model_inputs  # numpy and annoy: not before the first paint

        entry = store.lookup("model", model_inputs(self.app.dataset, ready.name, ready.params,
                                                   ready.engine))
        trainer = f"trained by {engine(ready.engine).title}"
        if entry is None:
            return f"cache: no entry · {trainer}"
        return f"cache: {entry.key} · {entry.size_bytes / 2**20:.1f} MiB · {trainer}"

    def _index_line(self, ready: Any) -> str:
        line = f"related artists: {markup_safe(ready.describe_similar())}"
        if ready.recommend_mode is not None:
            line += f"\nrecommendations: {ready.recommend_mode.mode} ({markup_safe(ready.recommend_mode.reason)})"
        return line

    def _show_evaluation(self) -> None:
        evaluation = self.app.evaluation
        title = self.query_one("#evaluation-title", Static)
        table = self.query_one("#evaluation", DataTable)
        table.display = evaluation is not None
        if evaluation is None:
            title.update("Evaluation [dim]— e: refit on 80% of the plays, measure on the rest[/dim]")
            return
        title.update(f"Evaluation at k={evaluation.k} · {markup_safe(evaluation.description)} · "
                     f"{evaluation.job.elapsed(self.app.clock()):.0f} s")
        table.clear(columns=True)
        table.add_column("model", key="model")
        shown = {key: value for key, value in METRICS.items()
                 if any(key in row for row in evaluation.rows)}
        for key, (heading, _) in shown.items():
            table.add_column(heading.replace("k", str(evaluation.k)) if "@k" in heading else heading,
                             key=key)
        for row in evaluation.rows:
            table.add_row(model_title(str(row["model"])),
                          *(fmt.format(row[key]) if row.get(key) is not None else ""
                            for key, (_, fmt) in shown.items()))

    @on(DataTable.RowHighlighted, "#models-table")
    def _highlighted(self) -> None:
        self.refresh_view()

    @on(DataTable.RowSelected, "#models-table")
    def _selected(self) -> None:
        self.action_use()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self._keys_for is not None and self._keys_for[0]
        if action == "evaluate":
            return not (self._keys_for and self._keys_for[1])
        return True

    def action_use(self) -> None:
        self.app.use_model(self.selected)

    def action_retrain(self) -> None:
        self.retrain(self.selected)

    def retrain(self, name: str) -> None:
        """Open the hyperparameters of model ``name`` for editing, then train it."""
        app = self.app
        ready = app.models.get(name)
        if ready is not None:
            params = ready.params
        else:
            params = registry.create(name, **app.model_params.get(name, {})).get_params()

        def train(params: dict[str, Any] | None) -> None:
            if params is not None:
                app.train(name, params)
                self.notify(f"Retraining {model_title(name)} in the background")

        app.push_screen(RetrainScreen(name, params), train)

    def action_cancel(self) -> None:
        self.app.cancel_jobs(self.selected)

    def action_evaluate(self) -> None:
        self.app.evaluate()
