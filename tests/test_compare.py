from tui_recs.compare import ComparedItem, compare_rankings


def test_identical_lists():
    comparison = compare_rankings([3, 1, 2], [3, 1, 2])
    assert comparison.overlap == 1.0 and comparison.rank_correlation == 1.0
    assert all(row.change == 0 for row in comparison.rows)


def test_reversed_shared_items_and_one_sided_items():
    comparison = compare_rankings([10, 20, 30, 40], [40, 30, 20, 99])
    assert comparison.overlap == 0.75
    # shared 20, 30, 40: left ranks 2, 3, 4 and right ranks 3, 2, 1 -> perfectly reversed
    assert comparison.rank_correlation == -1.0
    assert comparison.rows == (
        ComparedItem(10, 1, None), ComparedItem(20, 2, 3), ComparedItem(30, 3, 2),
        ComparedItem(40, 4, 1), ComparedItem(99, None, 4),
    )
    assert [row.change for row in comparison.rows] == [None, -1, 1, 3, None]


def test_hand_computed_spearman():
    # shared a..e with left ranks 1..5 and right ranks 2,1,4,3,5: d^2 sum = 4, rho = 1 - 24/120
    comparison = compare_rankings([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert abs(comparison.rank_correlation - 0.8) < 1e-12


def test_disjoint_and_empty():
    assert compare_rankings([1, 2], [3, 4]).overlap == 0.0
    assert compare_rankings([1, 2], [3, 4]).rank_correlation is None
    assert compare_rankings([], []).overlap == 0.0
