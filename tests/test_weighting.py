"""Weighting schemes against hand-computed values; orientation is users × items."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from tui_recs.errors import ModelError
from tui_recs.models import weighting
from tui_recs.models.weighting import artist_lengths, bm25, confidence, tfidf, weight

# 3 listeners × 2 artists: artist 0 has plays 4 and 2 (length 6), artist 1 has 6 (length 6).
PLAYS = sp.csr_matrix(np.array([[4, 0], [2, 6], [0, 0.0]], dtype=np.float32))


def test_bm25_by_hand():
    k1, b = 1.2, 0.75
    weighted = bm25(PLAYS, k1=k1, b=b).toarray()
    # Each artist (document) has length 6 = mean: length norm 1. Listener 0 plays 1 artist,
    # listener 1 plays 2: idf = log(2 / 2) = 0 and log(2 / 3) < 0.
    idf = np.log(2) - np.log1p(np.array([1, 2, 0]))
    expected = np.zeros((3, 2))
    for u, i in [(0, 0), (1, 0), (1, 1)]:
        x = PLAYS[u, i]
        expected[u, i] = x * (k1 + 1) / (k1 + x) * idf[u]
    np.testing.assert_allclose(weighted, expected, rtol=1e-6)
    assert bm25(PLAYS).dtype == np.float32 and bm25(PLAYS).shape == PLAYS.shape


# 4 listeners × 5 artists with unequal artist lengths (totals 13, 3, 40, 1, 0: the mean is
# 57 / 5 = 11.4), listeners of 1 to 3 artists, so that length normalisation and idf both act.
UNEQUAL = [[10, 0, 0, 0, 0],
           [3, 2, 0, 0, 0],
           [0, 1, 30, 0, 0],
           [0, 0, 10, 1, 0]]


def okapi_by_hand(rows: list[list[float]], k1: float, b: float) -> list[list[float]]:
    """BM25 of a listeners × artists table, written from the textbook formula one cell at a
    time (artists are the documents, listeners the terms), in plain Python floats."""
    n_artists = len(rows[0])
    lengths = [sum(row[i] for row in rows) for i in range(n_artists)]
    mean_length = sum(lengths) / n_artists
    result = []
    for row in rows:
        document_frequency = sum(1 for plays in row if plays > 0)
        idf = math.log(n_artists / (1 + document_frequency))
        result.append([0.0 if plays == 0 else
                       idf * plays * (k1 + 1)
                       / (plays + k1 * (1 - b + b * lengths[i] / mean_length))
                       for i, plays in enumerate(row)])
    return result


@pytest.mark.parametrize("k1, b", [(1.2, 0.75), (100.0, 0.8), (3.0, 1.0), (0.5, 0.0)])
def test_bm25_by_hand_with_unequal_artist_lengths(k1, b):
    plays = sp.csr_matrix(np.array(UNEQUAL, dtype=np.float32))
    weighted = bm25(plays, k1=k1, b=b)
    np.testing.assert_allclose(weighted.toarray(), okapi_by_hand(UNEQUAL, k1, b), rtol=1e-6,
                               atol=1e-7)
    assert weighted.nnz == plays.nnz


def test_bm25_one_cell_worked_out():
    """Listener 1's plays of artist 0 at k1 = 1.2, b = 0.75: idf log(5/3), artist length 13
    against the mean 11.4, so the saturation denominator grows by 1.2 · (0.25 + 0.75 · 13/11.4)."""
    weighted = bm25(sp.csr_matrix(np.array(UNEQUAL, dtype=np.float32)), k1=1.2, b=0.75)
    norm = 0.25 + 0.75 * 13 / 11.4  # 1.10526...
    assert weighted[1, 0] == pytest.approx(math.log(5 / 3) * 3 * 2.2 / (3 + 1.2 * norm), rel=1e-6)
    assert weighted[1, 0] == pytest.approx(0.7793, abs=1e-4)


def test_bm25_length_normalisation_penalises_long_documents():
    plays = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 9, 0, 0], [1, 0, 5, 5.0]], dtype=np.float32))
    weighted = bm25(plays, k1=1.0, b=1.0).toarray()
    # Listener 0 plays 2 of 4 artists (idf log(4/3) > 0) once each: the shorter artist 0
    # (length 3 vs 10) weighs more.
    assert weighted[0, 0] > weighted[0, 1]


def test_tfidf_and_none():
    idf = np.log(2) - np.log1p(np.array([1, 2, 0]))
    np.testing.assert_allclose(tfidf(PLAYS).toarray()[1], np.sqrt([2, 6]) * idf[1], rtol=1e-6)
    np.testing.assert_array_equal(weight(PLAYS, "none").toarray(), PLAYS.toarray())
    with pytest.raises(ModelError, match="unknown weighting 'bogus'"):
        weight(PLAYS, "bogus")


def test_confidence_is_alpha_times_plays_on_observed_cells_only():
    result = confidence(PLAYS, alpha=2.5)
    assert result.nnz == PLAYS.nnz
    np.testing.assert_allclose(result.data, 2.5 * PLAYS.data)
    assert PLAYS.data.tolist() == [4, 2, 6]  # input untouched
    own = PLAYS.copy()
    assert np.shares_memory(confidence(own, alpha=2.0, copy=False).data, own.data)  # in place
    np.testing.assert_array_equal(own.data, [8, 4, 12])
    with pytest.raises(ModelError, match="alpha must be positive"):
        confidence(PLAYS, alpha=0)


def test_bm25_rejects_bad_parameters():
    with pytest.raises(ModelError, match="BM25 needs"):
        bm25(PLAYS, k1=-1)


def test_blockwise_weighting_equals_whole_matrix_and_shares_its_structure(monkeypatch):
    """Blocks that cut rows (and empty rows) give the same weights as one pass over all."""
    plays = sp.random(40, 30, density=0.3, format="csr", dtype=np.float32, random_state=3)
    plays.data = np.ceil(plays.data * 50)
    plays.data[plays.indptr[7]:plays.indptr[8]] = 0  # an empty listener
    plays.eliminate_zeros()
    whole = {name: scheme(plays).toarray() for name, scheme in
             (("bm25", bm25), ("tfidf", tfidf), ("none", lambda m: weight(m, "none")))}
    lengths = artist_lengths(plays)
    monkeypatch.setattr(weighting, "BLOCK", 7)
    np.testing.assert_array_equal(artist_lengths(plays), lengths)
    for name, scheme in (("bm25", bm25), ("tfidf", tfidf), ("none", lambda m: weight(m, "none"))):
        blocked = scheme(plays)
        np.testing.assert_array_equal(blocked.toarray(), whole[name])
        assert np.shares_memory(blocked.indices, plays.indices)
        assert not np.shares_memory(blocked.data, plays.data)
