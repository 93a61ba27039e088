"""Heavy work (training, evaluation) in a child process, so that a caller's threads — the UI's
above all — never wait for the GIL while it runs.

Training in a thread of the UI's process froze the UI for up to a second at a time at the
360K shape: NumPy and SciPy hold the GIL through each large call (BM25 over 17M plays, a
sparse transpose, a sparse product inside the SVD, the Annoy build). A child process has a
GIL of its own. The dataset reaches it by path when it is saved in the cache (memory-mapped,
no copy) and pickled otherwise.

The child is a plain ``python -P -c`` subprocess (not multiprocessing: that re-imports the
caller's main module and needs a real ``sys.stderr``, which a running Textual app replaces).
``-P`` keeps the working directory off the child's ``sys.path``: the app may be started in a
directory nobody vetted, and a ``queue.py`` there would otherwise be imported by the child.
Protocol: the parent writes one frame (the job) to the child's stdin and keeps stdin open;
the child writes frames (stages, then the result or an error) to its stdout. Closing stdin
asks the child to stop, so a parent that dies stops its child too. The child's stray output
goes to a log whose last line explains a crash.
"""

from __future__ import annotations

import os
import pickle
import queue as queues
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, TypeVar

from tui_recs.cache import ArtifactStore
from tui_recs.data.dataset import Dataset
from tui_recs.errors import TuiRecsError
from tui_recs.evaluation import evaluate_registered, split_plays
from tui_recs.models.engine import DEFAULT_ENGINE
from tui_recs.models.registry import model_class
from tui_recs.pipeline import (INDEX_IF_CACHED, Cancelled, adopt_indexes, get_model, is_cached,
                               needs_index)

if TYPE_CHECKING:
    from tui_recs.pipeline import CancelEvent, Progress, ReadyModel

T = TypeVar("T")
#: How often the parent looks at the cancel event (seconds), and how long a cancelled child
#: gets to stop by itself before it is killed: killing is safe (cache entries are written
#: atomically), and quitting the app mid-training waits for it (an ALS iteration or an SVD at
#: 360K does not look at the event for seconds).
POLL, GRACE = 0.1, 1.0
_HEADER = struct.Struct("<Q")  # each frame: its length, then a pickle
#: The child's scheduling priority below the caller's: on 2 busy cores the UI waited up to
#: 0.5 s for a core while two children trained at the same priority.
NICENESS = 10


def dataset_reference(dataset: "Dataset") -> tuple[str, Any]:
    """What a child process needs to open ``dataset``: its saved directory, or the object."""
    if dataset.saved_at is not None:
        return "saved", str(dataset.saved_at)
    return "inline", dataset


def open_reference(reference: tuple[str, Any]) -> "Dataset":
    """The dataset of :func:`dataset_reference`, in the child."""
    kind, value = reference
    if kind == "saved":
        return Dataset.load_saved(Path(value), mmap=True)
    return value


def run_isolated(target: Callable[..., T], *args: Any, progress: "Progress | None" = None,
                 cancel: "CancelEvent | None" = None) -> T:
    """``target(*args, progress=..., cancel=...)`` in a child process; its result.

    ``target`` must be a module-level function whose arguments and result pickle. Stages it
    reports are passed to ``progress`` here; ``cancel`` set here stops it (Cancelled is
    raised). Errors in the child are raised here as TuiRecsError, with the child's message.
    """
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    name = getattr(target, "__name__", "job").strip("_")
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            [sys.executable, "-P", "-c", "from tui_recs.isolated import child_main; child_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        frames: queues.Queue = queues.Queue()
        reader = threading.Thread(target=_read_frames, args=(child.stdout, frames), daemon=True)
        reader.start()
        stopping_since = None
        try:
            _write_frame(child.stdin, (target, args))
            while True:
                if cancel is not None and cancel.is_set() and stopping_since is None:
                    stopping_since = time.monotonic()
                    _close(child.stdin)
                if stopping_since is not None and time.monotonic() - stopping_since > GRACE:
                    child.kill()
                try:
                    kind, payload = frames.get(timeout=POLL)
                except queues.Empty:
                    continue
                if kind == "stage":
                    if progress is not None:
                        progress(payload)
                elif kind == "done":
                    return payload
                elif kind == "cancelled":
                    raise Cancelled(payload)
                elif kind == "error":
                    raise TuiRecsError(payload)
                else:  # the stream ended without an answer
                    if stopping_since is not None:
                        raise Cancelled("cancelled") from None
                    child.wait()
                    raise TuiRecsError(f"the {name} process ended without an answer (exit code "
                                       f"{child.returncode}): {_last_line(log)}") from None
        except (BrokenPipeError, ConnectionResetError):
            child.wait()
            raise TuiRecsError(f"the {name} process could not start (exit code "
                               f"{child.returncode}): {_last_line(log)}") from None
        finally:
            _close(child.stdin)
            try:
                child.wait(GRACE)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            reader.join()
            child.stdout.close()


def child_main() -> None:
    """The child's side of :func:`run_isolated`: read the job, run it, write the answer."""
    if hasattr(os, "nice"):  # background work: the caller's own threads (a UI) come first
        os.nice(NICENESS)
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to the log, not into the frames
    target, args = _read_frame(sys.stdin.buffer)
    stop = threading.Event()

    def stop_when_stdin_closes() -> None:
        sys.stdin.buffer.read()
        stop.set()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    lock = threading.Lock()

    def send(kind: str, payload: Any) -> None:
        with lock:
            _write_frame(channel, (kind, payload))

    try:
        result = target(*args, progress=lambda stage: send("stage", stage), cancel=stop)
    except Cancelled as error:
        send("cancelled", str(error))
    except TuiRecsError as error:
        send("error", str(error))
    except Exception as error:  # reported to the parent, which raises it as a one-line error
        send("error", f"{type(error).__name__}: {error}")
    else:
        send("done", result)


def _write_frame(stream: IO[bytes], value: Any) -> None:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(body)))
    stream.write(body)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    """The next frame's value; EOFError when the stream ends before a whole frame."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (length,) = _HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        raise EOFError
    return pickle.loads(body)


def _read_frames(stream: IO[bytes], frames: queues.Queue) -> None:
    """Put each frame of ``stream`` on ``frames``, then ("ended", None)."""
    try:
        while True:
            frames.put(_read_frame(stream))
    except (EOFError, OSError, pickle.UnpicklingError):
        frames.put(("ended", None))


def _close(stream: IO[bytes]) -> None:
    try:
        stream.close()
    except OSError:  # the child is gone and the buffer could not be flushed
        pass


def _last_line(log: IO[bytes]) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else "out of memory, or killed?"


# ------------------------------------------------------------------------- what callers use
def get_model_isolated(dataset: "Dataset", name: str, params: dict[str, Any] | None, *,
                       store: "ArtifactStore | None", progress: "Progress | None" = None,
                       cancel: "CancelEvent | None" = None, engine: str = DEFAULT_ENGINE
                       ) -> "ReadyModel":
    """:func:`tui_recs.pipeline.get_model`, but a model that must be trained is trained (and
    stored) in a child process, then loaded from ``store`` here. Cheap models, cache hits and
    runs without a cache stay in this process.

    The first answer first: the model is returned as soon as it is trained, answering
    exactly (a few ms a query at 290K artists); where it wants indexes the cache lacks, they
    are built in another child meanwhile and adopted by the returned model when stored."""
    if store is None:
        return get_model(dataset, name, params, store=None, progress=progress, cancel=cancel,
                         engine=engine)
    if model_class(name).trains_in_child and not is_cached(dataset, name, params, store, engine):
        run_isolated(_train, dataset_reference(dataset), name, params, str(store.root), engine,
                     False, progress=progress, cancel=cancel)
    ready = get_model(dataset, name, params, store=store, progress=progress, cancel=cancel,
                      engine=engine, build_index=INDEX_IF_CACHED)
    if needs_index(ready):
        threading.Thread(target=_index_in_background, args=(ready, name, params, store, engine),
                         name=f"index-{name}", daemon=True).start()
    return ready


def _index_in_background(ready: "ReadyModel", name: str, params: dict[str, Any] | None,
                         store: "ArtifactStore", engine: str) -> None:
    """Build ``ready``'s indexes in a child process, then hand them to ``ready``; on failure
    it goes on answering exactly, and a warning says why."""
    import warnings

    try:
        run_isolated(_train, dataset_reference(ready.dataset), name, params, str(store.root),
                     engine, True)
        adopt_indexes(ready, get_model(ready.dataset, name, params, store=store, engine=engine,
                                       build_index=INDEX_IF_CACHED))
    except Exception as error:  # the model still answers, by exact search
        warnings.warn(f"{name}: the related-artists index was not built ({error}); "
                      f"answers come from exact search")


def evaluate_isolated(dataset: "Dataset", params: dict[str, dict[str, Any]], k: int,
                      seed: int = 0, cancel: "CancelEvent | None" = None, **split: Any
                      ) -> tuple[list[dict[str, Any]], str]:
    """The evaluation table (rows, split description) of models ``params`` (name ->
    hyperparameters) on a seeded split (``split``: as :func:`tui_recs.evaluation.split_plays`'s
    options; default an 80/20 holdout), the popularity baseline included, computed in a child
    process."""
    return run_isolated(_evaluate, dataset_reference(dataset), params, k, seed, split,
                        cancel=cancel)


def _train(reference: tuple[str, Any], name: str, params: dict[str, Any] | None, cache_dir: str,
           engine: str, build_index: bool, progress: "Progress", cancel: "CancelEvent") -> None:
    get_model(open_reference(reference), name, params, store=ArtifactStore(Path(cache_dir)),
              progress=progress, cancel=cancel, engine=engine, build_index=build_index)


def _evaluate(reference: tuple[str, Any], params: dict[str, dict[str, Any]], k: int, seed: int,
              split: dict[str, Any], progress: "Progress", cancel: "CancelEvent"
              ) -> tuple[list[dict[str, Any]], str]:
    chosen = split_plays(open_reference(reference).user_items, seed=seed, **split)
    return evaluate_registered(params, chosen, k), chosen.description
