"""The one small interface every recommender implements, and the factor-model queries.

Orientation is explicit everywhere: ``user_items`` is a users × items CSR matrix.
Item and user ids here are integer row/column positions of the Dataset.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.params import Param, resolve
from tui_recs.models.topk import rows_per_block, top_k

if TYPE_CHECKING:
    import scipy.sparse as sp

#: ``callback(iteration, seconds, loss_or_None[, measures]) -> bool | None``; returning False
#: stops training. Models with measures per epoch besides the loss (a validation RMSE) pass
#: them as a fourth argument, {name: value}.
FitCallback = Callable[..., "bool | None"]


@dataclass(frozen=True)
class Capabilities:
    """What a model can answer beyond ranking artists for a listener of the training data."""

    #: Related artists (similar_items) that mean something (popularity's are the same list).
    related: bool = True
    #: Recommendations for the listeners of the training data.
    recommend: bool = True
    #: Recommendations for a listener who is not in the training data (recommend_history).
    fold_in: bool = True
    #: ``explain(user, item, user_items, n)``: which listened artists led to a recommendation.
    explain: bool = False
    #: A training loss computed on request (the ``calculate_loss_every`` parameter). Models
    #: whose loss comes free with each epoch (BPR, logistic MF, SGD-MF) report it always.
    loss: bool = False
    #: Predicts play counts (``rmse(pairs)``): the evaluation shows its RMSE on held-out plays.
    rmse: bool = False


class Recommender(ABC):
    """fit / similar_items / recommend, single and batched, for any algorithm.

    A model declares itself in class attributes, read by the registry and both front ends:
    ``name``, ``title``, ``PARAMS`` (its hyperparameters, see :mod:`tui_recs.models.params`),
    ``capabilities`` and ``trains_in_child``. The constructor takes exactly the declared
    parameters as keywords, checks them and sets each as an attribute of the same name.
    """

    #: Short name used on the command line and in cache keys ("als", "lsa", ...).
    name: ClassVar[str] = "model"
    #: How the model is named on screen ("ALS").
    title: ClassVar[str] = "model"
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: Whether training is worth a process of its own (seconds or more on real data).
    trains_in_child: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        """Set every declared parameter: ``params`` over the declared defaults; a value of the
        wrong type, non-finite or out of range is a ParameterError naming it."""
        for key, value in resolve(self.PARAMS, params, self.name).items():
            setattr(self, key, value)

    @abstractmethod
    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None) -> "Recommender":
        """Learn from a users × items matrix of play counts (float32 CSR)."""

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able) that rebuild this model unfitted: every declared
        parameter, in declaration order."""
        return {param.name: getattr(self, param.name) for param in self.PARAMS}

    @abstractmethod
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The learned state as named arrays (saved as ``.npy`` in the cache)."""

    @classmethod
    def from_arrays(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> "Recommender":
        """A fitted model from :meth:`get_params` and :meth:`to_arrays` output."""
        model = cls(**params)
        model._set_arrays(arrays)
        return model

    @abstractmethod
    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the learned state written by :meth:`to_arrays`."""

    @abstractmethod
    def similar_items_batch(self, items: Sequence[int], n: int = 10
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Most similar artists for each query artist, the query itself left out.

        Returns (ids, scores), each len(items) × n; rows are padded with id -1 / score -inf
        when fewer than n artists exist.
        """

    @abstractmethod
    def score_batch(self, users: Sequence[int], user_items: "sp.csr_matrix") -> np.ndarray:
        """Scores of every artist for listener rows ``users`` of ``user_items``, higher is
        better: a fresh len(users) × items float32 array (callers may write to it).

        Already-played artists are scored like any other; :meth:`recommend_batch` ranks these
        scores, and evaluation reads whole rows of them (AUC).
        """

    def recommend_batch(self, users: Sequence[int], user_items: "sp.csr_matrix", n: int = 10,
                        filter_already_listened: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-n artists for each listener (row of ``user_items``), padded like similar_items."""
        return rank_for_users(users, user_items, n, filter_already_listened,
                              lambda block: self.score_batch(block, user_items))

    def score_history(self, history: "sp.csr_matrix") -> np.ndarray:
        """Scores (items,) float32 of every artist for a listener who may not be in the
        training data, given their plays as a 1 × items CSR row (see :func:`history_row`).

        Models that answer from the history itself (LSA projects it, popularity ignores it)
        serve this from :meth:`score_batch`; ALS folds the listener in first.
        """
        return self.score_batch([0], history)[0]

    def recommend_history(self, history: "sp.csr_matrix", n: int = 10,
                          filter_already_listened: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the n best artists for the listener of a 1 × items ``history`` row
        (a new listener: "I like these artists"); the history's artists are left out when
        ``filter_already_listened``."""
        ids, scores = rank_for_users([0], history, n, filter_already_listened,
                                     lambda block: self.score_history(history)[None, :].copy())
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def similar_items(self, item: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the n artists most similar to ``item``, best first, without it."""
        ids, scores = self.similar_items_batch([item], n)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def recommend(self, user: int, user_items: "sp.csr_matrix", n: int = 10,
                  filter_already_listened: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the n best artists for listener row ``user`` of ``user_items``."""
        ids, scores = self.recommend_batch([user], user_items, n, filter_already_listened)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]


def _stack(blocks: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-block top-k results into q × n arrays; excluded (non-finite) cells get id -1."""
    if not blocks:
        return np.empty((0, n), dtype=np.int64), np.empty((0, n), dtype=np.float32)
    ids = np.vstack([block_ids for block_ids, _ in blocks])
    scores = np.vstack([block_scores for _, block_scores in blocks])
    q, k = ids.shape
    out_ids = np.full((q, n), -1, dtype=np.int64)
    out_scores = np.full((q, n), -np.inf, dtype=np.float32)
    out_ids[:, :k] = ids
    out_scores[:, :k] = scores
    out_ids[~np.isfinite(out_scores)] = -1
    return out_ids, out_scores


def check_ids(ids: Sequence[int], upper: int, what: str) -> np.ndarray:
    """Validate positions 0 <= id < upper; a bad one is a ModelError naming it."""
    array = np.asarray(ids, dtype=np.int64).ravel()
    bad = array[(array < 0) | (array >= upper)]
    if len(bad):
        raise ModelError(f"{what} {int(bad[0])} is out of range: the model knows {upper} {what}s")
    return array


def history_row(history: "Sequence[tuple[int, float]] | sp.spmatrix", n_items: int) -> "sp.csr_matrix":
    """A listener's history, given as (artist position, plays) pairs or as a 1 × items row,
    as a 1 × ``n_items`` float32 CSR row with duplicates summed; ModelError when it does not fit
    or a play count is not positive."""
    import scipy.sparse as sp

    if hasattr(history, "tocsr"):
        row = history.tocsr().astype(np.float32)
        if row.shape != (1, n_items):
            raise ModelError(f"a listener history row must be 1 × {n_items}, not {row.shape}")
    else:
        pairs = list(history)
        items = check_ids([int(item) for item, _ in pairs], n_items, "item")
        plays = np.array([float(count) for _, count in pairs], dtype=np.float32)
        row = sp.csr_matrix((plays, (np.zeros(len(items), dtype=np.int64), items)),
                            shape=(1, n_items))
    row.sum_duplicates()
    if not np.isfinite(row.data).all() or (row.data <= 0).any():
        raise ModelError("plays in a listener history must be positive numbers")
    return row


def solve_fold_in(system: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """A new listener's factors (f,) float32 from the f × f normal equations ``system`` and
    right-hand side ``rhs`` (float64); a ModelError where they have no finite solution."""
    try:
        vector = np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        vector = np.full(len(rhs), np.nan)
    if not np.isfinite(vector).all():
        raise ModelError("could not fold in this listener: raise --regularization")
    return vector.astype(np.float32)


def check_trained_width(user_items: "sp.csr_matrix", n_items: int, model_name: str) -> None:
    """A ModelError unless ``user_items`` has the ``n_items`` columns the model learned."""
    if user_items.shape[1] != n_items:
        raise ModelError(f"user_items has {user_items.shape[1]} items but the {model_name} "
                         f"model was trained on {n_items}: pass the users × items matrix it "
                         "was trained on")


class FactorModel(Recommender):
    """A model whose scores are dot products of user and item factors.

    Subclasses set ``item_factors`` (items × f) and ``user_factors`` (users × f), float32, in
    ``fit``, and may override :meth:`user_vectors` (LSA projects listeners it has not stored).
    Related artists are ranked by cosine; recommendations by exact dot product.
    """

    item_factors: np.ndarray | None = None
    user_factors: np.ndarray | None = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        self._require_fitted()
        return {"item_factors": self.item_factors, "user_factors": self.user_factors}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_factors = arrays["item_factors"]
        self.user_factors = arrays["user_factors"]

    def _require_fitted(self) -> np.ndarray:
        if self.item_factors is None:
            raise ModelError(f"the {self.name} model is not trained yet: call fit() first")
        return self.item_factors

    @property
    def normalized_item_factors(self) -> np.ndarray:
        """Item factors (:meth:`similarity_factors`) scaled to unit length (rows of zeros stay
        zero), items × f float32."""
        factors = self._require_fitted()
        cached = self.__dict__.get("_normalized")
        if cached is None or cached[0] is not factors:
            # einsum: no items × f temporary (norm() squares into one: 0.1 s at 290K artists)
            similar = self.similarity_factors(factors)
            norms = np.sqrt(np.einsum("ij,ij->i", similar, similar))[:, None]
            # A plain C-ordered array whatever the factors are (a memory map, Fortran-ordered
            # from the SVD): row gathers and mat-vecs over it were 2-4x slower otherwise.
            normalized = np.divide(similar, norms, where=norms > 0,
                                   out=np.zeros(similar.shape, dtype=np.float32))
            cached = (factors, normalized)
            self.__dict__["_normalized"] = cached
        return cached[1]

    def similarity_factors(self, item_factors: np.ndarray) -> np.ndarray:
        """The columns of ``item_factors`` whose cosines rank related artists (all of them
        here; a model with a constant column leaves it out)."""
        return item_factors

    def user_vectors(self, users: np.ndarray, user_items: "sp.csr_matrix") -> np.ndarray:
        """Factor vectors (len(users) × f) for listener rows ``users`` of ``user_items``."""
        if self.user_factors is None:
            raise ModelError(f"the {self.name} model is not trained yet: call fit() first")
        return self.user_factors[check_ids(users, self.user_factors.shape[0], "user")]

    def similar_items_batch(self, items: Sequence[int], n: int = 10
                            ) -> tuple[np.ndarray, np.ndarray]:
        normalized = self.normalized_item_factors
        items = check_ids(items, normalized.shape[0], "item")
        blocks = []
        block_rows = rows_per_block(normalized.shape[0])
        for start in range(0, len(items), block_rows):
            block = items[start:start + block_rows]
            scores = normalized[block] @ normalized.T
            scores[np.arange(len(block)), block] = -np.inf
            blocks.append(top_k(scores, n))
        return _stack(blocks, n)

    def score_batch(self, users: Sequence[int], user_items: "sp.csr_matrix") -> np.ndarray:
        """Exact dot products of the listeners' vectors with every item factor."""
        item_factors = self._require_fitted()
        check_trained_width(user_items, item_factors.shape[0], self.name)
        vectors = self.user_vectors(np.asarray(users, dtype=np.int64), user_items)
        return vectors.astype(np.float32, copy=False) @ item_factors.T


def rank_for_users(users: Sequence[int], user_items: "sp.csr_matrix", n: int,
                   filter_already_listened: bool,
                   score_block: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Top-n artists for listener rows ``users``, scored a block of rows at a time.

    ``score_block(rows)`` returns len(rows) × items scores (a fresh array it may be written to);
    artists a listener already played are excluded when ``filter_already_listened``.
    """
    users = check_ids(users, user_items.shape[0], "user")
    blocks = []
    block_rows = rows_per_block(user_items.shape[1])
    for start in range(0, len(users), block_rows):
        block = users[start:start + block_rows]
        scores = score_block(block)
        if filter_already_listened:
            heard = user_items[block]
            scores[np.repeat(np.arange(len(block)), np.diff(heard.indptr)), heard.indices] = -np.inf
        blocks.append(top_k(scores, n))
    return _stack(blocks, n)
