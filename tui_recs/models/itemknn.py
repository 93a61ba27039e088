"""Item-kNN: each artist's K nearest neighbours over the weighted artist × listener matrix.

Three registered models, one per similarity, as in implicit's ItemItemRecommender family and
the related-artists work tui-recs comes from ("using BM25 distance on The Beatles..."):

- ``bm25``: dot products of BM25-weighted artist vectors (no normalisation; implicit's
  BM25Recommender);
- ``tfidf``: cosines of TF-IDF-weighted artist vectors, sqrt(plays) · idf of the listener
  (implicit's TFIDFRecommender);
- ``cosine``: cosines of the raw play-count vectors (implicit's CosineRecommender).

The weightings are :mod:`tui_recs.models.weighting`'s, which are implicit's ``bm25_weight`` and
``tfidf_weight`` in the users × items orientation, so the neighbour lists agree with implicit's
(``benchmarks/bench_models.py`` measures the overlap). Three names rather than one model with a
``similarity`` parameter: each is then its own row in ``evaluate``, its own choice in Compare
and for ``m``, and each keeps its own defaults (BM25's K1 and B exist for one of them only).

Fitting keeps, for every artist, its K most similar other artists (``_knn_kernels``), stored as
an artists × artists CSR matrix S (each row's neighbours in no particular order: a query sorts
the row it reads). Related artists
are a row of S; a listener's scores are their weighted history h (the listener's row of the
weighted matrix, computed with the training data's statistics for a new listener) times S:
score_j = Σ_i h_i · S[i, j]. Nothing is random: no seed.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import (Capabilities, FitCallback, Recommender, check_ids,
                                  check_trained_width)
from tui_recs.models.params import THREADS, Param
from tui_recs.models.weighting import BM25_B, artist_lengths, bm25, tfidf

if TYPE_CHECKING:
    import scipy.sparse as sp

NEIGHBOURS = Param("neighbours", int, 100, "K, the neighbours kept per artist", low=1,
                   high=10_000, cli_name="neighbours")


class ItemKNN(Recommender):
    """Item-kNN over one similarity: a subclass per similarity sets its weighting
    (``_entry_weights``) and whether artist columns are normalised."""

    #: Whether the weighted artist columns are scaled to unit length (cosine similarities).
    _normalises: ClassVar[bool] = True
    capabilities = Capabilities(related=True, recommend=True, fold_in=True)
    trains_in_child = True

    neighbours: int
    num_threads: int | None

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        #: S, artists × artists CSR float32: row i holds i's K neighbours, unsorted.
        self.matrix: "sp.csr_matrix | None" = None
        #: Per-artist statistics of the training data that weigh a listener's history: total
        #: plays (BM25's document lengths) or the weighted columns' norms (cosine, TF-IDF).
        self.column_stats: np.ndarray | None = None

    # ------------------------------------------------------------------ weighting
    @abstractmethod
    def _entry_weights(self, user_items: "sp.csr_matrix",
                       lengths: np.ndarray | None = None) -> "sp.csr_matrix":
        """The per-entry weighting before any column normalisation (users × items CSR float32;
        ``lengths``: the training data's artist lengths, for BM25)."""

    def _lengths(self, user_items: "sp.csr_matrix") -> np.ndarray | None:
        """The artists' total plays when the weighting needs them (BM25's document lengths,
        kept to weigh listeners' histories like the training data); None here."""
        return None

    def weigh(self, user_items: "sp.csr_matrix") -> "sp.csr_matrix":
        """Listener rows ``user_items`` (any × items plays) weighted as in training, with the
        training data's statistics: the h of score = h · S (users × items CSR float32)."""
        stats = self._require_fitted()[1]
        entries = self._entry_weights(user_items.tocsr(), stats)
        return self._normalised(entries, stats) if self._normalises else entries

    @staticmethod
    def _normalised(entries: "sp.csr_matrix", stats: np.ndarray) -> "sp.csr_matrix":
        """Columns of ``entries`` divided by the norms ``stats`` (zero norms: 0), a new
        matrix on the same index arrays."""
        import scipy.sparse as sp

        scale = np.divide(1.0, stats, out=np.zeros_like(stats), where=stats > 0)
        data = (entries.data * scale[entries.indices]).astype(np.float32)
        return sp.csr_matrix((data, entries.indices, entries.indptr), shape=entries.shape,
                             copy=False)

    # ------------------------------------------------------------------ training
    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "ItemKNN":
        """Weight ``user_items`` (users × items play counts) and keep each artist's K best
        other artists. One step: ``callback(1, seconds, None)`` at the end; ``cancel`` is
        accepted for a uniform signature (the product cannot be interrupted)."""
        import scipy.sparse as sp

        # numba: ~0.3 s, only to train
        from tui_recs.models._knn_kernels import (compacted, normalised_with_transpose,
                                                  top_k_neighbours)
        from tui_recs.models._numba import threads

        started = time.perf_counter()
        user_items = user_items.tocsr()
        lengths = self._lengths(user_items)
        entries = self._entry_weights(user_items, lengths)
        n_items = user_items.shape[1]
        with threads(self.num_threads) as count:
            norms, data, t_indptr, t_indices, t_data = normalised_with_transpose(
                entries.indptr, entries.indices, entries.data.astype(np.float32, copy=False),
                n_items, self._normalises, count)
            neighbours, similarities, counts = top_k_neighbours(
                entries.indptr, entries.indices, data, t_indptr, t_indices, t_data,
                min(self.neighbours, max(1, n_items)), count)
        self.matrix = sp.csr_matrix(compacted(neighbours, similarities, counts),
                                    shape=(n_items, n_items))
        # The statistics that weigh a listener's history like the training data: BM25's
        # lengths, or the weighted columns' norms.
        self.column_stats = norms if lengths is None else lengths
        if callback is not None:
            callback(1, time.perf_counter() - started, None)
        return self

    def _require_fitted(self) -> tuple["sp.csr_matrix", np.ndarray]:
        if self.matrix is None or self.column_stats is None:
            raise ModelError(f"the {self.name} model is not trained yet: call fit() first")
        return self.matrix, self.column_stats

    # ------------------------------------------------------------------ answers
    def similar_items_batch(self, items: Sequence[int], n: int = 10
                            ) -> tuple[np.ndarray, np.ndarray]:
        """The n best of each query artist's neighbours (at most K; padded with -1/-inf),
        best first, ties by the lower artist id (rows are stored unsorted: see fit)."""
        matrix = self._require_fitted()[0]
        items = check_ids(items, matrix.shape[0], "item")
        ids = np.full((len(items), n), -1, dtype=np.int64)
        scores = np.full((len(items), n), -np.inf, dtype=np.float32)
        for row, item in enumerate(items.tolist()):
            start, stop = int(matrix.indptr[item]), int(matrix.indptr[item + 1])
            columns, values = matrix.indices[start:stop], matrix.data[start:stop]
            best = np.lexsort((columns, -values))[:n]
            ids[row, :len(best)] = columns[best]
            scores[row, :len(best)] = values[best]
        return ids, scores

    def score_batch(self, users: Sequence[int], user_items: "sp.csr_matrix") -> np.ndarray:
        """h · S for listener rows ``users`` of ``user_items`` (len(users) × items float32)."""
        matrix = self._require_fitted()[0]
        check_trained_width(user_items, matrix.shape[0], self.name)
        users = check_ids(users, user_items.shape[0], "user")
        history = self.weigh(user_items[users])
        return np.asarray((history @ matrix).toarray(), dtype=np.float32)

    # ------------------------------------------------------------------ the cache
    def to_arrays(self) -> dict[str, np.ndarray]:
        matrix, stats = self._require_fitted()
        return {"indptr": matrix.indptr, "indices": matrix.indices, "data": matrix.data,
                "column_stats": stats}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore S from its CSR arrays, checked: they may come from a cache on disk, and
        ids index arrays (ValueError names what is wrong)."""
        import scipy.sparse as sp

        indptr, indices, data = arrays["indptr"], arrays["indices"], arrays["data"]
        stats = np.asarray(arrays["column_stats"], dtype=np.float64)
        n_items = len(stats)
        if (indptr.ndim != 1 or len(indptr) != n_items + 1 or indptr[0] != 0
                or (np.diff(indptr) < 0).any() or (np.diff(indptr) > self.neighbours).any()
                or indptr[-1] != len(indices) or len(indices) != len(data)):
            raise ValueError("the neighbour matrix's row pointers do not fit its "
                             f"{n_items:,} artists and {self.neighbours} neighbours")
        if len(indices) and (indices.min() < 0 or indices.max() >= n_items):
            raise ValueError("the neighbour matrix names artists out of range")
        if not (np.isfinite(data).all() and np.isfinite(stats).all()):
            raise ValueError("the neighbour matrix holds values that are not finite")
        self.matrix = sp.csr_matrix((np.asarray(data, dtype=np.float32),
                                     np.asarray(indices, dtype=np.int32),
                                     np.asarray(indptr, dtype=np.int64)),
                                    shape=(n_items, n_items))
        self.column_stats = stats


class BM25KNN(ItemKNN):
    """Item-kNN on dot products of BM25-weighted artist vectors."""

    name = "bm25"
    title = "BM25 kNN"
    _normalises = False
    PARAMS = (
        NEIGHBOURS,
        # K1 100 / B 0.8 are the seed's values (implicit's bm25_weight defaults); the usual
        # 1.2 / 0.75 measured against them on hetrec in docs/defaults.md.
        Param("bm25_k1", float, 100.0, "BM25 K1 of the weighting", low=0, high=1e6),
        BM25_B,
        THREADS,
    )
    bm25_k1: float
    bm25_b: float

    def _entry_weights(self, user_items: "sp.csr_matrix",
                       lengths: np.ndarray | None = None) -> "sp.csr_matrix":
        return bm25(user_items, self.bm25_k1, self.bm25_b, lengths=lengths)

    def _lengths(self, user_items: "sp.csr_matrix") -> np.ndarray:
        return artist_lengths(user_items)


class TFIDFKNN(ItemKNN):
    """Item-kNN on cosines of TF-IDF-weighted artist vectors."""

    name = "tfidf"
    title = "TF-IDF kNN"
    PARAMS = (NEIGHBOURS, THREADS)

    def _entry_weights(self, user_items: "sp.csr_matrix",
                       lengths: np.ndarray | None = None) -> "sp.csr_matrix":
        return tfidf(user_items)


class CosineKNN(ItemKNN):
    """Item-kNN on cosines of the artists' play-count vectors."""

    name = "cosine"
    title = "cosine kNN"
    PARAMS = (NEIGHBOURS, THREADS)

    def _entry_weights(self, user_items: "sp.csr_matrix",
                       lengths: np.ndarray | None = None) -> "sp.csr_matrix":
        return user_items.astype(np.float32, copy=False)
