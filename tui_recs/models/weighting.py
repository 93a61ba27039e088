"""Weighting of the users × items play-count matrix before factorization.

Orientation: every function takes and returns a users × items CSR matrix (float32). For the
text-retrieval schemes (BM25, TF-IDF) each *artist* is a document and its *listeners* are the
terms: an artist's "document length" is its total plays, and a listener's inverse document
frequency falls with the number of artists they play. This is the weighting of the Last.fm
related-artists work, applied to the artist × listener view (the transpose of the input).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.params import Param

if TYPE_CHECKING:
    import scipy.sparse as sp

WEIGHTINGS = ("bm25", "tfidf", "none")
#: BM25's length normalisation, the same declaration for every model that weights by BM25.
BM25_B = Param("bm25_b", float, 0.8, "BM25 B: 0 ignores artists' total plays, 1 normalises "
               "by them fully", low=0, high=1)


#: Stored entries weighted at a time: bounds each float64 temporary to 2 MiB (a copy of the
#: whole matrix in float64, 8 bytes per play, was the peak of fitting at the 360K shape).
BLOCK = 1 << 18


def _listener_idf(user_items: "sp.csr_matrix") -> np.ndarray:
    """(n_users,) idf of each listener as a term: log(n_items / artists played)."""
    artists_per_listener = np.diff(user_items.indptr).astype(np.float64)
    return np.log(user_items.shape[1]) - np.log1p(artists_per_listener)


def _blocks(nnz: int) -> Iterator[slice]:
    """Consecutive slices of at most BLOCK of a matrix's ``nnz`` stored entries."""
    for start in range(0, nnz, BLOCK):
        yield slice(start, min(start + BLOCK, nnz))


def _spread(row_values: np.ndarray, indptr: np.ndarray, entries: slice) -> np.ndarray:
    """(entries,) float64: ``row_values`` of the row of each stored entry in ``entries`` of a
    CSR matrix with row pointers ``indptr``."""
    first = int(np.searchsorted(indptr, entries.start, side="right")) - 1
    stop = int(np.searchsorted(indptr, entries.stop - 1, side="right"))
    counts = np.diff(np.clip(indptr[first:stop + 1], entries.start, entries.stop))
    return np.repeat(row_values[first:stop], counts)


def _with_data(matrix: "sp.csr_matrix", data: np.ndarray) -> "sp.csr_matrix":
    """A CSR matrix of ``data`` (nnz,) on ``matrix``'s sparsity structure: its index arrays
    are shared, not copied (the caller must not sort or prune either matrix in place)."""
    import scipy.sparse as sp

    return sp.csr_matrix((data, matrix.indices, matrix.indptr), shape=matrix.shape, copy=False)


def _reweighted(user_items: "sp.csr_matrix", weigh: Callable[[np.ndarray, np.ndarray], np.ndarray],
                row_factors: np.ndarray) -> "sp.csr_matrix":
    """Users × items CSR float32 of ``weigh(plays, items) * row_factors[row]`` over the stored
    entries, BLOCK at a time (plays float64, items the entries' columns; ``weigh`` may return
    a new array it owns, which is scaled in place); the result shares ``user_items``' index
    arrays."""
    matrix = user_items.tocsr()
    data = np.empty(matrix.nnz, dtype=np.float32)
    for entries in _blocks(matrix.nnz):
        weights = weigh(matrix.data[entries].astype(np.float64), matrix.indices[entries])
        weights *= _spread(row_factors, matrix.indptr, entries)
        data[entries] = weights
    return _with_data(matrix, data)


def artist_lengths(user_items: "sp.csr_matrix") -> np.ndarray:
    """(n_items,) float64: each artist's total plays, its BM25 document length."""
    return _column_totals(user_items, weighted=True)


def artist_listeners(user_items: "sp.csr_matrix") -> np.ndarray:
    """(n_items,) float64: how many listeners played each artist (stored entries per column)."""
    return _column_totals(user_items, weighted=False)


def _column_totals(user_items: "sp.csr_matrix", weighted: bool) -> np.ndarray:
    """(n_items,) float64 sums of each column's stored values (``weighted``) or counts of
    them, BLOCK entries at a time: bincount copies to float64 and int64 indices, and holds the
    GIL throughout (0.3 s over 17M plays, a frozen UI in a thread beside it)."""
    totals = np.zeros(user_items.shape[1])
    for entries in _blocks(user_items.nnz):
        totals += np.bincount(user_items.indices[entries],
                              weights=user_items.data[entries] if weighted else None,
                              minlength=user_items.shape[1])
    return totals


def bm25(user_items: "sp.csr_matrix", k1: float = 100.0, b: float = BM25_B.default,
         lengths: np.ndarray | None = None) -> "sp.csr_matrix":
    """Okapi BM25 weights, users × items CSR float32 (sharing ``user_items``' index arrays).

    w_ui = plays_ui * (k1 + 1) / (k1 * (1 - b + b * len_i / mean_len) + plays_ui) * idf_u,
    where len_i is artist i's total plays (its document length) and idf_u the listener's
    idf, log(n_items / (1 + artists they played)): negative for a listener of more than about
    every other artist (see the module docstring for the orientation). ``lengths`` gives the
    artist lengths of the training data when weighting rows of new listeners (default: from
    this matrix).
    """
    if k1 < 0 or not 0 <= b <= 1:
        raise ModelError(f"BM25 needs K1 >= 0 and 0 <= B <= 1 (got K1={k1}, B={b})")
    matrix = user_items.tocsr()
    doc_length = artist_lengths(matrix) if lengths is None else lengths
    mean_length = doc_length.mean() if doc_length.size else 1.0
    # k1 · length_norm once per artist, and the arithmetic in place: the same float64
    # operations in the same order as the formula above, a third of the temporaries.
    column_terms = k1 * ((1.0 - b) + b * doc_length / mean_length)

    def saturated(plays: np.ndarray, items: np.ndarray) -> np.ndarray:
        denominator = column_terms[items]
        denominator += plays
        plays *= k1 + 1.0
        plays /= denominator
        return plays

    return _reweighted(matrix, saturated, _listener_idf(matrix))


def tfidf(user_items: "sp.csr_matrix") -> "sp.csr_matrix":
    """TF-IDF weights, users × items CSR float32: sqrt(plays) * idf of the listener (sharing
    ``user_items``' index arrays)."""
    return _reweighted(user_items, lambda plays, items: np.sqrt(plays, out=plays),
                       _listener_idf(user_items.tocsr()))


def weight(user_items: "sp.csr_matrix", scheme: str = "bm25", **params: float) -> "sp.csr_matrix":
    """Apply ``scheme`` ("bm25", "tfidf" or "none") to a users × items matrix; the result
    has its own values and shares the input's index arrays."""
    if scheme == "bm25":
        return bm25(user_items, **params)
    if scheme == "tfidf":
        return tfidf(user_items)
    if scheme == "none":
        matrix = user_items.tocsr()
        return _with_data(matrix, matrix.data.astype(np.float32))
    raise ModelError(f"unknown weighting {scheme!r}: use one of {', '.join(WEIGHTINGS)}")


def confidence(user_items: "sp.csr_matrix", alpha: float, copy: bool = True) -> "sp.csr_matrix":
    """Hu, Koren & Volinsky confidence, in the form the ALS solver consumes.

    The model's confidence is c_ui = 1 + alpha * w_ui for observed pairs and 1 for the rest,
    with preference p_ui = [w_ui > 0]. This returns the users × items CSR float32 matrix of
    (c_ui - 1) = alpha * w_ui on the observed pairs only, so that zero cells stay implicit;
    it shares ``user_items``' index arrays. ``copy=False`` scales ``user_items``' values in
    place when they are already float32 (saves a copy that the caller made for this purpose).
    """
    if not alpha > 0:
        raise ModelError(f"alpha must be positive (got {alpha})")
    matrix = user_items.tocsr()
    data = matrix.data.astype(np.float32, copy=copy)
    with np.errstate(over="ignore"):  # overflow becomes inf, which callers check for
        data *= np.float32(alpha)
    return _with_data(matrix, data)
