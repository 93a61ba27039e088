"""LSA: truncated SVD of the BM25-weighted artist × listener matrix.

With the weighted artist × listener matrix A ≈ U S Vᵀ (k = factors), artists are the rows
of U·S (so cosines weigh each latent dimension by its singular value, as in the Last.fm
related-artists write-up), and a listener with weighted play column a is projected to
v = S⁻¹ Uᵀ a. Scores (U S)·v then reconstruct the listener's column of A; a training
listener's projection is exactly their row of V, and a new listener is projected the same way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import FactorModel, FitCallback, check_ids

if TYPE_CHECKING:
    import scipy.sparse as sp

SOLVERS = ("propack", "arpack")


class LSA(FactorModel):
    """Latent semantic analysis of listening data.

    Args:
        factors: k, the number of singular triplets kept.
        bm25_k1, bm25_b: BM25 parameters of the weighting.
        random_state: seed of the SVD's start vector (None: fresh randomness).
        solver: scipy ``svds`` solver; "propack" falls back to "arpack" if it fails.
    """

    name = "lsa"

    # Defaults: the best of a grid by NDCG@10 on hetrec (docs/defaults.md).
    def __init__(self, factors: int = 32, bm25_k1: float = 3.0, bm25_b: float = 0.8,
                 random_state: int | None = None, solver: str = "propack") -> None:
        if solver not in SOLVERS:
            raise ModelError(f"unknown LSA solver {solver!r}: use one of {', '.join(SOLVERS)}")
        if int(factors) < 1:
            raise ModelError(f"LSA factors must be at least 1 (got {factors})")
        self.factors = int(factors)
        self.bm25_k1 = float(bm25_k1)
        self.bm25_b = float(bm25_b)
        self.random_state = random_state
        self.solver = solver
        self.singular_values: np.ndarray | None = None
        self.item_basis: np.ndarray | None = None  # U (items × k)
        self.lengths: np.ndarray | None = None  # artists' total plays in the training data

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "LSA":
        """Weight with BM25 and take the truncated SVD (one step: callback(1, seconds, None))."""
        from scipy.sparse.linalg import svds

        from tui_recs.models.weighting import artist_lengths, bm25

        started = time.perf_counter()
        self.lengths = artist_lengths(user_items)
        weighted = bm25(user_items, self.bm25_k1, self.bm25_b, lengths=self.lengths)
        artist_listener = weighted.T.tocsr()
        k = min(self.factors, min(artist_listener.shape) - 1)
        if k < 1:
            raise ModelError(f"LSA needs at least 2 listeners and 2 artists, got "
                             f"{artist_listener.shape[1]} × {artist_listener.shape[0]}")
        rng = np.random.default_rng(self.random_state)
        start = rng.standard_normal(min(artist_listener.shape)).astype(np.float64)
        try:
            U, S, Vt = svds(artist_listener.astype(np.float64), k=k, solver=self.solver,
                            v0=start, random_state=self.random_state)
        except Exception:  # propack can fail to converge; arpack is slower but robust
            U, S, Vt = svds(artist_listener.astype(np.float64), k=k, solver="arpack", v0=start)
        order = np.argsort(-S)
        U, S, Vt = U[:, order], S[order], Vt[order]
        # Singular vectors have arbitrary signs: fix them so results do not flip between runs.
        signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(k)])
        signs[signs == 0] = 1
        U, Vt = U * signs, Vt * signs[:, None]
        self.singular_values = S.astype(np.float32)
        self.item_basis = U.astype(np.float32)
        self.item_factors = (U * S).astype(np.float32)
        self.user_factors = Vt.T.astype(np.float32)
        self.__dict__.pop("_normalized", None)
        if callback is not None:
            callback(1, time.perf_counter() - started, None)
        return self

    def user_vectors(self, users: np.ndarray, user_items: "sp.csr_matrix") -> np.ndarray:
        """Projections S⁻¹ Uᵀ a (len(users) × k) of listener rows of ``user_items``, weighted
        with the training data's BM25 statistics; works for listeners not seen in training."""
        from tui_recs.models.weighting import bm25

        self._require_fitted()
        users = check_ids(users, user_items.shape[0], "user")
        weighted = bm25(user_items[users], self.bm25_k1, self.bm25_b, lengths=self.lengths)
        return (weighted @ self.item_basis) / self.singular_values

    def get_params(self) -> dict[str, Any]:
        return {"factors": self.factors, "bm25_k1": self.bm25_k1, "bm25_b": self.bm25_b,
                "random_state": self.random_state, "solver": self.solver}

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {**super().to_arrays(), "singular_values": self.singular_values,
                "item_basis": self.item_basis, "lengths": self.lengths}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.singular_values = arrays["singular_values"]
        self.item_basis = arrays["item_basis"]
        self.lengths = arrays["lengths"]
