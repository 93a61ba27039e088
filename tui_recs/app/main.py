"""The Textual app: owns the loaded data and models, runs the heavy work in thread workers.

Workers call the core and report back only through the typed messages of
:mod:`tui_recs.app.messages`; the handlers here update the UI state on the UI thread and
tell the views. Each view is a mode (a screen of its own). The app opens on the Artists view
when the data is in the cache, else on the loading view; the loading view (also) shows while
a start-up model trains.
"""

from __future__ import annotations

import gc
import random
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from tui_recs.app.commands import ActionCommands, ArtistCommands, ListenerCommands
from tui_recs.app.config import Config, default_config_path
from tui_recs.app.help import HelpScreen
from tui_recs.app.memory import Remembered, find_artist, find_listener, merged_params
from tui_recs.app.messages import (DataLoaded, EvaluationDone, JobEnded, JobProgressed,
                                   ModelReady, NamesIndexed, Warned, describe_error)
from tui_recs.app.state import (AUTO, VIEWS, History, Job, model_for, model_title,
                                startup_models)
from tui_recs.app.views.artists import ArtistsScreen
from tui_recs.app.views.compare import CompareScreen
from tui_recs.app.views.listeners import ListenersScreen
from tui_recs.app.views.loading import LoadingScreen
from tui_recs.app.views.models import ModelsScreen
from tui_recs.defaults import MIN_LISTENERS, MIN_LISTENERS_STEPS
from tui_recs.models import registry
from tui_recs.text import counted, markup_safe

if TYPE_CHECKING:
    from tui_recs.cache import ArtifactStore
    from tui_recs.data.dataset import Dataset
    from tui_recs.pipeline import ReadyModel
    from tui_recs.search import IdIndex, NameIndex
    from tui_recs.session import Session

EVALUATION_K = 10
#: Seconds between the start-up models settling and completing the name index.
PREPARE_DELAY = 1.0
#: Seconds the loader waits at most for the loaded data to be on screen (see DataLoaded.shown).
SHOWN_TIMEOUT = 1.0


def _freeze_heap() -> None:
    """Leave every object alive now out of later garbage collections: called when the app
    mounts, the data, the name index and the start-up models arrive, and once the name index
    is complete, each of which lives as long as the app. A full collection traversed them all
    on the UI thread, freezing it for 25-70 ms, and typing that met one took 70-95 ms per key."""
    gc.freeze()


def _dataset_cached(data: str | Path | None, format: str, cache_dir: str | Path | None,
                    use_cache: bool, demo_options: dict[str, Any] | None,
                    dataset_factory: Callable[[], "Dataset"] | None,
                    encoding: str | None) -> bool:
    """Whether the data will come from the cache (False for a dataset factory: unknown; and
    where the question itself fails, e.g. an unreadable cache: the loader then says why)."""
    if dataset_factory is not None or not use_cache:
        return False
    from tui_recs.data.store import is_dataset_cached  # numpy and the cache code: only when asked

    try:
        options = (dict(demo_options or {}) if data is None
                   else {"encoding": encoding} if encoding is not None else {})
        return is_dataset_cached(data, format, cache_dir, **options)
    except Exception:  # never a crash before the app has started
        return False


def _bundle_cached(bundle: str | Path, cache_dir: str | Path | None, use_cache: bool) -> bool:
    """Whether a bundle's data is in the cache (never a crash before the app has started)."""
    if not use_cache:
        return False
    from tui_recs.cache import ArtifactStore, resolve_cache_dir
    from tui_recs.external import bundle_cached

    try:
        return bundle_cached(bundle, ArtifactStore(resolve_cache_dir(cache_dir)))
    except Exception:
        return False


class TuiRecsApp(App[int]):
    """Explore artist similarities and listener recommendations learned from play counts."""

    TITLE = "tui-recs"
    CSS_PATH = Path(__file__).with_name("tui_recs.tcss")
    MODES: ClassVar[dict[str, Any]] = {
        "loading": LoadingScreen, "artists": ArtistsScreen, "listeners": ListenersScreen,
        "compare": CompareScreen, "models": ModelsScreen,
    }
    # The first view: chosen per app in __init__.
    DEFAULT_MODE = "artists"
    # Below 80 columns the Artists view stacks its panes (see the stylesheet).
    HORIZONTAL_BREAKPOINTS = [(0, "-stacked"), (80, "-narrow"), (110, "-wide")]
    COMMANDS = App.COMMANDS | {ArtistCommands, ListenerCommands, ActionCommands}
    BINDINGS = [
        # Not in the footer: the bar at the top shows the views with their keys.
        *(Binding(str(number), f"view('{view}')", title, id=f"view.{view}", show=False)
          for number, (view, title) in enumerate(VIEWS.items(), start=1)),
        # Not in the footer: the bar at the top shows the model in use and this key.
        Binding("m", "cycle_model", "Next model", id="app.toggle-model", show=False),
        # Not in the footer either: the bar shows the filter and this key.
        Binding("f", "cycle_min_listeners", "Min listeners", id="app.min-listeners",
                show=False),
        Binding("f1,question_mark", "help", "Help", id="app.help", key_display="F1"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    #: The model the views answer with (when it is ready); AUTO: each view the model measured
    #: best at its question (related artists, recommendations).
    preferred: reactive[str] = reactive(AUTO)
    #: Related artists and recommendations leave out artists with fewer listeners (0: none).
    min_listeners: reactive[int] = reactive(MIN_LISTENERS)
    #: Bumped whenever a model is added or replaced; the views re-query on change.
    models_version: reactive[int] = reactive(0)
    #: Bumped whenever a job starts, reports progress or ends; progress widgets follow it.
    jobs_version: reactive[int] = reactive(0)
    #: Bumped when artist names and listener ids become searchable (after the data loads).
    names_version: reactive[int] = reactive(0)

    def __init__(self, data: str | Path | None = None, format: str = "auto",
                 cache_dir: str | Path | None = None, use_cache: bool = True, *,
                 demo_options: dict[str, Any] | None = None,
                 dataset_factory: Callable[[], "Dataset"] | None = None,
                 model_params: dict[str, dict[str, Any]] | None = None,
                 config_path: Path | None = None, clock: Callable[[], float] = time.monotonic,
                 cursor_blink: bool = True, seed: int | None = None,
                 encoding: str | None = None, fresh: bool = False,
                 bundles: Sequence[str | Path] = (), model_file: str | Path | None = None) -> None:
        """
        Args:
            data, format, cache_dir, use_cache, encoding: as the command line's ``--data``
                and friends; ``data`` None is the built-in demo data.
            demo_options: the demo generator's options (such as the 360K shape).
            dataset_factory: builds the Dataset instead (tests pass a small demo dataset).
            model_params: hyperparameters per model name (default: the core's defaults).
            config_path: the settings file (default: the user config dir).
            clock: seconds, for elapsed times (tests freeze it).
            cursor_blink: whether text cursors blink (tests turn it off).
            seed: seed of the random listener picker (None: fresh randomness).
            fresh: start clean, not where the last session left off (it is still saved).
            bundles, model_file: as ``--bundle`` and ``--model-file`` (models trained
                elsewhere; they answer first).
        """
        # The first view, set before App.__init__ opens it: the Artists view when the data is
        # in the cache (everything is ready in a moment), else the loading view. Switching to
        # the loading view once the loader found the data uncached laid out a second screen
        # while the loader held the GIL: stalls of 80-100 ms at start-up.
        cached = (_bundle_cached(bundles[0], cache_dir, use_cache) if bundles else
                  _dataset_cached(data, format, cache_dir, use_cache, demo_options,
                                  dataset_factory, encoding))
        # The last session (read before App.__init__, which opens the first view).
        config_path = config_path or default_config_path()
        config = Config.load(config_path)
        remembered = Remembered() if fresh else config.session
        #: The view the app opens on once the data is in: the last session's, or Artists.
        self.home_view = remembered.view or "artists"
        self.DEFAULT_MODE = self.home_view if cached else "loading"
        super().__init__()
        self.data_path = data
        self.data_format = format
        self.data_encoding = encoding
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.demo_options = dict(demo_options or {})
        self.dataset_factory = dataset_factory
        self.bundles, self.model_file = list(bundles), model_file
        self.config_path, self.config, self.remembered = config_path, config, remembered
        self.model_params = merged_params(remembered.params, model_params or {})
        self.clock = clock
        self.cursor_blink = cursor_blink
        self.rng = random.Random(seed)
        self.session: "Session | None" = None
        self.dataset: Dataset | None = None
        self.names: NameIndex | None = None
        #: The name index whose completion has started (see _prepare_names).
        self._prepared_names: NameIndex | None = None
        self.listener_ids: IdIndex | None = None
        self.store: ArtifactStore | None = None
        self.models: dict[str, ReadyModel] = {}
        self.jobs: dict[str, Job] = {}
        self.load_error: str | None = None
        self.evaluation: EvaluationDone | None = None
        self.history = History()
        self.listener: int | None = None
        #: The Listeners view shows a new listener made of ``picks`` rather than ``listener``.
        self.new_listener = False
        self.picks: list[int] = []
        #: The two models Compare puts side by side: by default the two measured defaults.
        self.compare_pair = list(dict.fromkeys(
            [model_for(AUTO, "related"), model_for(AUTO, "recommend"), *registry.names()]))[:2]
        self.compare_subject = "artist"
        if remembered.model is not None:
            self.preferred = remembered.model

    # ---------------------------------------------------------------------------- start-up
    def on_load(self) -> None:
        if self.config.keymap:
            self.set_keymap(self.config.keymap)

    def on_mount(self) -> None:
        _freeze_heap()
        if self.config.theme in self.available_themes:
            self.theme = self.config.theme
        self.theme_changed_signal.subscribe(self, self._save_theme)
        for problem in self.config.problems:  # a damaged or hostile settings file
            self.notify(markup_safe(problem), title="Settings", severity="warning", timeout=10)
        # The core warns through Python's warnings (from any thread): notifications here.
        self._show_warning, warnings.showwarning = warnings.showwarning, self._post_warning
        # At once, not after the first paint: the loader's work overlaps the app's start-up
        # (ready from the cache ~0.15 s sooner at default scale, first paint unchanged).
        self.load_data()

    def on_unmount(self) -> None:
        gc.unfreeze()  # what the app held can be collected once it has gone (tests run many)
        warnings.showwarning = self._show_warning
        self._save_session()

    # ----------------------------------------------------------------- the last session
    @property
    def source_key(self) -> str:
        """Which data this is, for the saved session: its path as given, or "demo"."""
        return "demo" if self.data_path is None else str(self.data_path)

    def _save_session(self) -> None:
        """Remember where this session leaves off (quietly: the app is closing)."""
        dataset = self.dataset
        if dataset is None:
            return
        item, user = self.history.current, self.listener
        view = self.current_mode if self.current_mode in VIEWS else self.home_view
        self.config.session = Remembered(
            source=self.source_key, view=view, model=self.preferred,
            artist=None if item is None else str(dataset.item_names[item]),
            listener=None if user is None else str(dataset.user_ids[user]),
            params={name: dict(params) for name, params in self.model_params.items() if params})
        try:
            self.config.save(self.config_path)
        except OSError:
            pass  # nowhere to say it: the next start opens as a fresh one

    def _restore_subjects(self, dataset: "Dataset") -> None:
        """The last session's artist and listener, when it explored the same data."""
        remembered = self.remembered
        if remembered.source != self.source_key:
            return
        item = find_artist(dataset, remembered.artist)
        if item is not None:
            self.history = History()
            self.history.visit(item)
        user = find_listener(dataset, remembered.listener)
        if user is not None:
            self.listener = user

    def _post_warning(self, message: Warning | str, *rest: Any) -> None:
        self.post_message(Warned(str(message)))  # thread-safe, unlike notify

    def on_warned(self, message: Warned) -> None:
        self.notify(markup_safe(message.text), severity="warning", timeout=10)

    def _save_theme(self, theme: Any) -> None:
        if self.config.theme == self.theme:
            return
        self.config.theme = self.theme
        try:
            self.config.save(self.config_path)
        except OSError as error:
            self.notify(markup_safe(f"Could not save the theme to {self.config_path}: {error}"),
                        severity="warning")

    def _new_session(self) -> "Session":
        """A session over the current source (the cache root is resolved once, here)."""
        from tui_recs.session import Session  # the cache code: ~10 ms the first paint lacks

        return Session(self.data_path, self.data_format, self.cache_dir, self.use_cache,
                       encoding=self.data_encoding if self.data_path is not None else None,
                       demo_options=self.demo_options, dataset_factory=self.dataset_factory,
                       bundles=self.bundles, model_file=self.model_file)

    def _to_train(self, dataset: "Dataset", store: "ArtifactStore | None",
                  external: bool) -> list[str]:
        """The start-up models that take a while: heavy ones the cache lacks; none beside
        ``external`` models (heavy ones then train only when asked: listing them flashed the
        loading view up while a bundle loaded, two screen switches of 0.1 s each)."""
        from tui_recs.pipeline import is_cached  # numpy and annoy: not before the first paint

        if external:
            return []
        return [name for name in self.startup_models if registry.model_class(name).trains_in_child and (
            store is None or not is_cached(dataset, name, self.model_params.get(name), store))]

    @property
    def source_label(self) -> str:
        """What is being explored, for titles: the file name or "demo data"."""
        if self.bundles:
            return f"bundle {Path(self.bundles[0]).name}"
        return Path(self.data_path).name if self.data_path else "demo data"

    def load_data(self, factory: Callable[[], "Dataset"] | None = None) -> None:
        """Load the dataset in the background (``factory`` replaces the current source)."""
        if factory is not None:
            self.dataset_factory = factory
            self.data_path = None
        self.load_error = None
        job = Job("data", "data", self.clock(), cancellable=False,
                  message=f"loading {self.source_label}…")
        self.jobs["data"] = job
        self.jobs_version += 1
        self._load_worker(job)

    @work(thread=True, group="data", exit_on_error=False)
    def _load_worker(self, job: Job) -> None:
        try:
            session = self._new_session()
            session.external_models  # opened and registered here, off the UI thread
            dataset = session.dataset
            first_artist = int(dataset.top_items(1)[0]) if dataset.n_items else None
            to_train = self._to_train(dataset, session.store, bool(session.external_models))
        except Exception as error:  # every failure becomes a message on screen, never a crash
            self.post_message(JobEnded(job, "failed", describe_error(error)))
            return
        # The models start loading (or training) while the names are indexed.
        loaded = DataLoaded(job, session, first_artist, to_train)
        self.post_message(loaded)
        loaded.shown.wait(SHOWN_TIMEOUT)
        try:
            names, listener_ids = session.indexes()
        except Exception as error:  # the data is there: the rest of the app still works
            self.call_from_thread(self.notify, describe_error(error), severity="error",
                                  title="Artist search is unavailable", timeout=10)
            return
        self.post_message(NamesIndexed(names, listener_ids))

    def on_names_indexed(self, message: NamesIndexed) -> None:
        _freeze_heap()
        self.names, self.listener_ids = message.names, message.listener_ids
        self.names_version += 1
        self._prepare_names()

    def _prepare_names(self) -> None:
        """Complete the name index (its typo index; the name counts that spare scans and let
        typing show its matches without a worker) a moment after
        the start-up models are in: sooner, the work would compete for the GIL with loading
        them and with drawing their first answers (at 360K it doubled a 0.13 s layout)."""
        names = self.names
        if names is None or names is self._prepared_names or any(
                self.jobs[key].running for key in self.startup_models if key in self.jobs):
            return
        self._prepared_names = names
        _freeze_heap()
        self.set_timer(PREPARE_DELAY, lambda: self._prepare_worker(names))

    @work(thread=True, group="data", exit_on_error=False)
    def _prepare_worker(self, names: "NameIndex") -> None:
        names.prepare()
        self.call_from_thread(_freeze_heap)  # the name counts live as long as the app too

    def on_data_loaded(self, message: DataLoaded) -> None:
        _freeze_heap()
        self.session = message.session
        self.dataset, self.store = message.session.dataset, message.session.store
        self.names = self.listener_ids = None
        self.history = History()
        if message.first_artist is not None:
            self.history.visit(message.first_artist)
        self._restore_subjects(message.session.dataset)
        dataset = message.session.dataset
        message.job.finish("done", self.clock(), f"{counted(dataset.n_users, 'listener')} × "
                                                 f"{counted(dataset.n_items, 'artist')}, "
                                                 f"{counted(dataset.nnz, 'play')}")
        external = list(message.session.external_models)
        if external:  # they answer first; heavy models train only when asked (palette)
            self.preferred = external[0]
            self.compare_pair = list(dict.fromkeys([*external, *registry.names()]))[:2]
        for name in (external + [name for name in self.startup_models if name not in external
                                 and not registry.model_class(name).trains_in_child]
                     if external else self.startup_models):
            self.train(name, quick=name not in message.to_train)
        self.jobs_version += 1
        self.models_version += 1  # the views draw the new data
        if message.to_train:
            self._show_loading()
        self._advance_from_loading()
        self.call_after_refresh(message.shown.set)

    def _show_loading(self) -> None:
        """Let the loading view take over: a model trains, or loading
        failed (the view shows the error and a way out)."""
        if self.current_mode != "loading":
            self.switch_mode("loading")

    def _advance_from_loading(self) -> None:
        """Leave the loading view once the data and every start-up model have settled."""
        if self.current_mode == "loading" and self.dataset is not None and not any(
                job.running for job in self.jobs.values()):
            self.switch_mode(self.home_view)

    def explore(self) -> None:
        """Go to the views now; training goes on in the background."""
        if self.dataset is not None:
            self.switch_mode(self.home_view)

    # ----------------------------------------------------------------------------- models
    def train(self, name: str, params: dict[str, Any] | None = None, quick: bool = False) -> None:
        """Train model ``name`` (or load it from the cache) in the background. A model already
        in use stays in use until the new one is ready; a job already training it is cancelled.
        ``quick``: it will be ready in a moment (the views wait rather than use a stand-in)."""
        previous = self.jobs.get(name)
        if previous is not None and previous.running:
            previous.cancel.set()
        params = dict(self.model_params.get(name, {}) if params is None else params)
        job = Job(name, model_title(name), self.clock(), params=params, quick=quick,
                  message=f"starting {model_title(name)}…")
        self.jobs[name] = job
        self.jobs_version += 1
        self._train_worker(job)

    @work(thread=True, group="train", exit_on_error=False)
    def _train_worker(self, job: Job) -> None:
        from tui_recs.pipeline import Cancelled  # numpy and annoy: not before the first paint

        try:
            params = dict(job.params)
            if registry.model_class(job.key).capabilities.loss:
                params.setdefault("calculate_loss_every", 1)  # the loss is shown per iteration
            ready = self.session.model(
                job.key, isolated=True, cancel=job.cancel,
                progress=lambda stage: self.post_message(JobProgressed(job, stage)), **params)
        except Cancelled:
            self.post_message(JobEnded(job, "cancelled"))
        except Exception as error:
            self.post_message(JobEnded(job, "failed", describe_error(error)))
        else:
            self.post_message(ModelReady(job, ready))

    def on_job_progressed(self, message: JobProgressed) -> None:
        job, stage = message.job, message.stage
        if not job.running:
            return
        if job.advance(stage):
            self.jobs_version += 1

    def on_model_ready(self, message: ModelReady) -> None:
        job, ready = message.job, message.ready
        if self.jobs.get(job.key) is not job:
            return  # superseded by a newer job for the same model
        replaced = job.key in self.models
        self.models[job.key] = ready
        self.model_params[job.key] = job.params
        seconds = job.elapsed(self.clock())
        job.finish("done", self.clock(), f"ready in {seconds:.1f} s")
        self.jobs_version += 1
        self.models_version += 1
        if replaced:
            self.notify(f"{job.title} retrained in {seconds:.1f} s and now in use",
                        title="Model replaced")
        self._advance_from_loading()
        self._prepare_names()

    def on_job_ended(self, message: JobEnded) -> None:
        job = message.job
        if self.jobs.get(job.key) is not job:
            return
        if message.status == "cancelled":
            job.finish("cancelled", self.clock(), "cancelled; nothing was stored")
            self.notify(f"{job.title}: cancelled", severity="warning")
        else:
            job.finish("failed", self.clock(), message.error)
            if job.key == "data":
                self.load_error = message.error
                self._show_loading()  # shows the error with a way out: no toast over it
            else:
                self.notify(markup_safe(message.error), title=f"{job.title} failed",
                            severity="error", timeout=10)
        self.jobs_version += 1
        self.models_version += 1
        self._advance_from_loading()
        self._prepare_names()

    def cancel_jobs(self, key: str | None = None) -> int:
        """Ask the running job ``key`` (default: every cancellable one) to stop; returns how
        many were asked."""
        running = [job for job in self.jobs.values() if job.running and job.cancellable
                   and key in (None, job.key)]
        for job in running:
            job.cancel.set()
            job.message = "cancelling…"
        self.jobs_version += 1
        return len(running)

    @property
    def startup_models(self) -> list[str]:
        """The models trained (or loaded) at start: the defaults and the ones in use."""
        return startup_models([self.preferred, *self.compare_pair])

    def answering_model(self, name: str | None = None, question: str = "related"
                        ) -> tuple["ReadyModel | None", str]:
        """The model to answer with: ``name`` (default: the one in use for ``question``,
        "related" or "recommend") when it is ready, else a ready stand-in; and a note saying
        so ("" when it is the one asked for)."""
        name = name or model_for(self.preferred, question)
        if name in self.models:
            return self.models[name], ""
        why = self.why_not_ready(name)
        job = self.jobs.get(name)
        if job is not None and job.running and job.quick:
            return None, why
        for other in (*reversed(self.startup_models), *self.models):
            if other in self.models:
                return self.models[other], f"{why}: showing {model_title(other)}"
        return None, why

    def why_not_ready(self, name: str) -> str:
        """"ALS is still training", "ALS is not trained (failed)"..."""
        job = self.jobs.get(name)
        if job is not None and job.running:
            return f"{model_title(name)} is " + ("loading" if job.quick else "still training")
        return f"{model_title(name)} is not trained" + (f" ({job.status})" if job else "")

    # -------------------------------------------------------------------------- evaluation
    def evaluate(self) -> None:
        """Measure every model and the popularity baseline on the same held-out plays (each
        refitted on the rest, whether trained here yet or not)."""
        current = self.jobs.get("evaluate")
        if current is not None and current.running:
            self.notify("The evaluation is already running")
            return
        from tui_recs.evaluation import BASELINE  # loads numpy: not before the first paint

        names = [name for name in registry.names() if name != BASELINE.name]
        params = {name: self.model_params.get(name, {}) for name in names}
        job = Job("evaluate", "evaluation", self.clock(), params=params,
                  message=f"refitting {', '.join(model_title(n) for n in names)} and "
                          f"{BASELINE.title} on 80% of each listener's plays…")
        self.jobs["evaluate"] = job
        self.jobs_version += 1
        self._evaluate_worker(job)

    @work(thread=True, group="evaluate", exit_on_error=False)
    def _evaluate_worker(self, job: Job) -> None:
        from tui_recs.pipeline import Cancelled  # numpy and annoy: not before the first paint

        try:
            rows, description = self.session.evaluate(job.params, EVALUATION_K, isolated=True,
                                                      cancel=job.cancel)
        except Cancelled:
            self.post_message(JobEnded(job, "cancelled"))
        except Exception as error:
            self.post_message(JobEnded(job, "failed", describe_error(error)))
        else:
            self.post_message(EvaluationDone(job, rows, description, EVALUATION_K))

    def on_evaluation_done(self, message: EvaluationDone) -> None:
        if self.jobs.get("evaluate") is not message.job:
            return
        message.job.finish("done", self.clock(), f"done in {message.job.elapsed(self.clock()):.1f} s")
        self.evaluation = message
        self.jobs_version += 1
        self.models_version += 1

    # ----------------------------------------------------------------------- navigation
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("view", "cycle_model"):
            return self.dataset is not None and self.current_mode != "loading"
        return True

    async def action_quit(self) -> None:
        """Quit, stopping training and evaluation (their processes would otherwise keep the app
        from exiting until they finish); the exit code is 1 when the data could not be loaded
        (as on the command line)."""
        self.cancel_jobs()
        self.exit(return_code=1 if self.load_error else 0)

    def action_view(self, view: str) -> None:
        self.switch_mode(view)

    def action_cycle_model(self) -> None:
        """Answer with the next registered model (after the last, the measured defaults)."""
        names = [AUTO, *registry.names()]
        following = names.index(self.preferred) + 1 if self.preferred in names else 0
        self.use_model(names[following % len(names)])

    def action_cycle_min_listeners(self) -> None:
        """The next minimum-listeners floor of MIN_LISTENERS_STEPS (after the last, 0)."""
        larger = [step for step in MIN_LISTENERS_STEPS if step > self.min_listeners]
        self.min_listeners = larger[0] if larger else MIN_LISTENERS_STEPS[0]
        self.notify(f"Showing artists with at least {self.min_listeners} listeners"
                    if self.min_listeners else "Showing artists with any number of listeners",
                    timeout=3)

    def use_model(self, name: str) -> None:
        """Answer with model ``name`` (or AUTO) from now on; one not trained yet starts
        training, and a stand-in is shown until it is ready."""
        if name != AUTO:
            self.ensure_model(name)  # first: the views redraw as ``preferred`` changes
        self.preferred = name
        if name == AUTO:
            self.notify("Answering with the models measured best: related artists "
                        f"{model_title(model_for(AUTO, 'related'))}, recommendations "
                        f"{model_title(model_for(AUTO, 'recommend'))}", timeout=3)
            return
        _, note = self.answering_model(name)
        self.notify(note or f"Answering with {model_title(name)}", timeout=3)

    def ensure_model(self, name: str) -> None:
        """Start training ``name`` unless it is ready or has been started (a failed one is
        retrained only when asked: Models view, palette)."""
        if self.session is not None and name not in self.models and name not in self.jobs:
            self.train(name)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_artist(self, item: int) -> None:
        """Show artist ``item`` in the Artists view (it joins the back history)."""
        self.history.visit(item)
        self._show_view("artists")

    def open_listener(self, user: int) -> None:
        """Show listener row ``user`` in the Listeners view."""
        self.listener = user
        self.new_listener = False
        self._show_view("listeners")

    def compare(self, subject: str) -> None:
        """Compare the two models on the current artist or listener."""
        self.compare_subject = subject
        self._show_view("compare")

    def _show_view(self, view: str) -> None:
        if self.current_mode == view:
            self.screen_stack[0].refresh_view()
        else:
            self.switch_mode(view)
