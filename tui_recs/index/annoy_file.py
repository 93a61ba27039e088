"""Checks of an Annoy index file before Annoy memory-maps it.

Annoy trusts its file: a node whose child or item id points past the file makes a query read
out of bounds (a crafted file with recomputed cache checksums killed ``recommend`` with
SIGSEGV), and a split node pointing at itself makes it loop. The file is an array of nodes of
one size; node ``i < n_items`` is item ``i``; the last nodes are the roots. Each node starts
with ``n_descendants`` (int32): 1 for an item, up to K for a leaf bucket whose ``children``
array lists item ids, more for a split whose two children are nodes built before it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: metric -> (bytes before ``children`` in a node, bytes before the vector) (annoylib.h).
_LAYOUT = {"angular": (4, 12), "euclidean": (8, 16), "manhattan": (8, 16), "dot": (4, 16)}


def check_annoy_file(path: Path, dimension: int, metric: str, n_items: int) -> None:
    """ValueError (one line) unless ``path`` is a well-formed Annoy file of ``n_items`` items
    of ``dimension`` floats under ``metric``: every id in range, every split acyclic."""
    if metric not in _LAYOUT:
        raise ValueError(f"unknown Annoy metric {metric!r}")
    children_at, vector_at = _LAYOUT[metric]
    node_bytes = vector_at + 4 * dimension
    size = path.stat().st_size
    if size == 0 or size % node_bytes:
        raise ValueError(f"{path.name} has {size:,} bytes, not a whole number of "
                         f"{node_bytes}-byte nodes ({metric}, {dimension} dimensions)")
    nodes = np.memmap(path, dtype=np.int32, mode="r").reshape(-1, node_bytes // 4)
    n_nodes = len(nodes)
    descendants = np.asarray(nodes[:, 0])
    if n_nodes < n_items + 1 or descendants[-1] != n_items:
        raise ValueError(f"{path.name} holds {descendants[-1]:,} items in {n_nodes:,} nodes, "
                         f"the factors have {n_items:,}")
    if n_items and not (descendants[:n_items] == 1).all():
        raise ValueError(f"{path.name}: an item node is not a leaf")
    first_child = children_at // 4
    bucket_size = (node_bytes - children_at) // 4  # Annoy's K
    inner = np.arange(n_items, n_nodes)
    counts = descendants[n_items:]
    if (counts < 1).any():
        raise ValueError(f"{path.name}: a node has no descendants")
    buckets = inner[counts <= bucket_size]
    if len(buckets):
        ids = np.asarray(nodes[buckets, first_child:first_child + bucket_size])
        used = np.arange(bucket_size) < descendants[buckets][:, None]
        if ((ids < 0) | (ids >= n_items))[used].any():
            raise ValueError(f"{path.name}: a leaf lists an item id out of range")
    splits = inner[counts > bucket_size]
    if len(splits):
        children = np.asarray(nodes[splits, first_child:first_child + 2])
        # Built bottom-up: a split's children come before it (the roots at the end are
        # copies of earlier splits, so theirs do too). This also rules out cycles.
        if ((children < 0) | (children >= splits[:, None])).any():
            raise ValueError(f"{path.name}: a split node points at itself or past the file")
