"""Exact top-k: both the NumPy path and the Numba kernel against a full stable sort."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_recs.models._score_kernels import top_k_rows
from tui_recs.models.topk import KERNEL_MIN_CELLS, _top_k_numpy, top_k

#: Few distinct values, so that ties (also at the k-th place), -inf and NaN are common.
CELLS = st.sampled_from([0.0, 1.0, 2.0, 2.5, -1.0, -np.inf, np.nan])


def reference(scores: np.ndarray, k: int) -> np.ndarray:
    """Columns ordered by score (NaN last), ties by column: a full stable sort."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@st.composite
def score_matrices(draw):
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 30))
    cells = draw(st.lists(CELLS, min_size=rows * cols, max_size=rows * cols))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return np.array(cells, dtype=dtype).reshape(rows, cols), draw(st.integers(1, cols))


@settings(max_examples=200, deadline=None)
@given(score_matrices())
def test_both_paths_match_a_stable_sort(case):
    scores, k = case
    expected = reference(scores, k)
    for columns, values in (_top_k_numpy(scores, k), top_k_rows(scores, k)):
        np.testing.assert_array_equal(columns, expected)
        np.testing.assert_array_equal(values, np.take_along_axis(scores, expected, axis=1))


def test_large_inputs_use_the_kernel_and_agree():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 50, (4, KERNEL_MIN_CELLS // 4)).astype(np.float32)
    columns, values = top_k(scores, 25)
    np.testing.assert_array_equal(columns, reference(scores, 25))
    np.testing.assert_array_equal(columns, _top_k_numpy(scores, 25)[0])


def test_edge_shapes():
    assert top_k(np.zeros((0, 5)), 3)[0].shape == (0, 3)
    assert top_k(np.zeros((2, 5)), 0)[0].shape == (2, 0)
    columns, _ = top_k(np.array([3.0, 1.0, 2.0]), 10)  # k above the width: everything, ranked
    assert columns.tolist() == [[0, 2, 1]]


def test_single_queries_wait_for_no_kernel(monkeypatch):
    """One row over many columns uses NumPy until a batch has loaded the Numba kernel (loading
    it costs an interactive query ~0.7 s), then the kernel; both give the same answer."""
    from tui_recs.models import topk

    scores = np.random.default_rng(2).random((2, KERNEL_MIN_CELLS), dtype=np.float32)
    calls = []
    real = topk._kernel_top_k
    monkeypatch.setattr(topk, "_kernel_top_k", lambda s, k: calls.append(len(s)) or real(s, k))
    monkeypatch.setitem(topk._kernel, "loaded", False)
    single = top_k(scores[:1], 5)
    assert calls == []
    batch = top_k(scores, 5)
    assert calls == [2] and topk._kernel["loaded"]
    assert top_k(scores[:1], 5)[0].tolist() == single[0].tolist() == batch[0][:1].tolist()
    assert calls == [2, 1]
