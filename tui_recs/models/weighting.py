"""Weighting of the users × items play-count matrix before factorization.

Orientation: every function takes and returns a users × items CSR matrix (float32). For the
text-retrieval schemes (BM25, TF-IDF) each *artist* is a document and its *listeners* are the
terms: an artist's "document length" is its total plays, and a listener's inverse document
frequency falls with the number of artists they play. This is the weighting of the Last.fm
related-artists work, applied to the artist × listener view (the transpose of the input).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

WEIGHTINGS = ("bm25", "tfidf", "none")


def _listener_idf(user_items: "sp.csr_matrix") -> np.ndarray:
    """(n_users,) idf of each listener as a term: log(n_items / artists played)."""
    artists_per_listener = np.diff(user_items.indptr).astype(np.float64)
    return np.log(user_items.shape[1]) - np.log1p(artists_per_listener)


def artist_lengths(user_items: "sp.csr_matrix") -> np.ndarray:
    """(n_items,) float64: each artist's total plays, its BM25 document length."""
    return np.bincount(user_items.indices, weights=user_items.data.astype(np.float64),
                       minlength=user_items.shape[1])


def bm25(user_items: "sp.csr_matrix", k1: float = 100.0, b: float = 0.8,
         lengths: np.ndarray | None = None) -> "sp.csr_matrix":
    """Okapi BM25 weights, users × items CSR float32.

    w_ui = plays_ui * (k1 + 1) / (k1 * (1 - b + b * len_i / mean_len) + plays_ui) * idf_u,
    where len_i is artist i's total plays (its document length) and idf_u the listener's
    idf, log(n_items / (1 + artists they played)): negative for a listener of more than about
    every other artist (see the module docstring for the orientation). ``lengths`` gives the
    artist lengths of the training data when weighting rows of new listeners (default: from
    this matrix).
    """
    if k1 < 0 or not 0 <= b <= 1:
        from tui_recs.errors import ModelError

        raise ModelError(f"BM25 needs K1 >= 0 and 0 <= B <= 1 (got K1={k1}, B={b})")
    matrix = user_items.tocsr().astype(np.float32, copy=True)
    plays = matrix.data.astype(np.float64)
    doc_length = artist_lengths(matrix) if lengths is None else lengths
    mean_length = doc_length.mean() if doc_length.size else 1.0
    length_norm = (1.0 - b) + b * doc_length / mean_length
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    weighted = plays * (k1 + 1.0) / (k1 * length_norm[matrix.indices] + plays)
    matrix.data = (weighted * _listener_idf(matrix)[rows]).astype(np.float32)
    return matrix


def tfidf(user_items: "sp.csr_matrix") -> "sp.csr_matrix":
    """TF-IDF weights, users × items CSR float32: sqrt(plays) * idf of the listener."""
    matrix = user_items.tocsr().astype(np.float32, copy=True)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    matrix.data = (np.sqrt(matrix.data.astype(np.float64)) * _listener_idf(matrix)[rows]
                   ).astype(np.float32)
    return matrix


def weight(user_items: "sp.csr_matrix", scheme: str = "bm25", **params: float) -> "sp.csr_matrix":
    """Apply ``scheme`` ("bm25", "tfidf" or "none") to a users × items matrix."""
    if scheme == "bm25":
        return bm25(user_items, **params)
    if scheme == "tfidf":
        return tfidf(user_items)
    if scheme == "none":
        return user_items.tocsr().astype(np.float32)
    from tui_recs.errors import ModelError

    raise ModelError(f"unknown weighting {scheme!r}: use one of {', '.join(WEIGHTINGS)}")


def confidence(user_items: "sp.csr_matrix", alpha: float, copy: bool = True) -> "sp.csr_matrix":
    """Hu, Koren & Volinsky confidence, in the form the ALS solver consumes.

    The model's confidence is c_ui = 1 + alpha * w_ui for observed pairs and 1 for the rest,
    with preference p_ui = [w_ui > 0]. This returns the users × items CSR float32 matrix of
    (c_ui - 1) = alpha * w_ui on the observed pairs only, so that zero cells stay implicit.
    ``copy=False`` scales ``user_items`` itself when it is already a float32 CSR matrix (saves
    a copy of a large matrix that the caller made for this purpose).
    """
    if not alpha > 0:
        from tui_recs.errors import ModelError

        raise ModelError(f"alpha must be positive (got {alpha})")
    matrix = user_items.tocsr().astype(np.float32, copy=copy)
    with np.errstate(over="ignore"):  # overflow becomes inf, which callers check for
        matrix.data *= np.float32(alpha)
    return matrix
