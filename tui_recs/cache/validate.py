"""Structure checks of an entry's ``.npy`` files, before anything loads them.

A checksum only proves that a file is the one the manifest describes, and whoever can write
the cache directory can write the manifest too (the default cache is ``./cache/`` when the
working directory has one). So every array file must also be a plain array whose header
agrees with its size, and every floating-point array must be finite: NaN factors gave
nonsense answers, a header larger than its data a crash. What each array means (index ranges,
shapes that fit the dataset) is checked by whoever loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui_recs.cache.errors import InvalidEntry

#: Elements summed per step by the finiteness check (bounds the float64 temporary).
_BLOCK = 1 << 22


def check_arrays(directory: Path, manifest: dict[str, Any]) -> None:
    """InvalidEntry naming the first ``.npy`` payload file of the entry in ``directory``
    that is not a finite, non-object array whose header matches its size."""
    for name in sorted(manifest.get("files", {})):
        if name.endswith(".npy"):
            check_npy(directory / name, name)


def check_npy(path: Path, name: str) -> None:
    """InvalidEntry unless ``path`` is a ``.npy`` array of a plain dtype whose header's
    shape times item size is exactly the bytes after the header, and (floats) all finite."""
    import numpy as np

    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            readers = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f".npy version {version} is not one np.save writes")
            shape, _, dtype = readers[version](handle)
            offset = handle.tell()
    except (OSError, ValueError, SyntaxError, TypeError) as error:
        raise InvalidEntry(f"{name} is not a valid .npy array ({error})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise InvalidEntry(f"{name} holds {dtype}, not plain numbers")
    count = 1
    for length in shape:
        if not isinstance(length, int) or length < 0:
            raise InvalidEntry(f"{name} has shape {shape}")
        count *= length
    size = path.stat().st_size
    if offset + count * dtype.itemsize != size:
        raise InvalidEntry(f"{name} has {size - offset:,} bytes of data, its shape {shape} "
                           f"of {dtype} needs {count * dtype.itemsize:,}")
    if dtype.kind in "fc" and count:
        values = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,))
        if not _all_finite(values):
            raise InvalidEntry(f"{name} holds NaN or infinite values")


def _all_finite(values: Any) -> bool:
    """Whether a 1-d float array is all finite: block sums in float64 (a NaN or inf makes
    the sum non-finite; finite float32 values cannot overflow it), with an exact look at a
    block whose sum is not finite (float64 values can overflow)."""
    import numpy as np

    for start in range(0, len(values), _BLOCK):
        block = values[start:start + _BLOCK]
        if not np.isfinite(np.sum(block, dtype=np.float64 if block.dtype.kind == "f"
                                  else np.complex128)):
            if not np.isfinite(block).all():
                return False
    return True


def check_rows(arrays: dict[str, Any], rows: dict[str, int]) -> None:
    """ValueError unless each of ``arrays`` named in ``rows`` has that many rows, and those
    with two dimensions have equal widths (a loader's check that stored arrays fit the data
    they are used with: ids index them, and factors multiply each other)."""
    widths = set()
    for name, expected in rows.items():
        array = arrays.get(name)
        if array is None:
            continue
        if array.ndim not in (1, 2) or len(array) != expected:
            raise ValueError(f"{name}.npy has shape {array.shape}, expected {expected:,} rows")
        if array.ndim == 2:
            widths.add(array.shape[1])
    if len(widths) > 1:
        raise ValueError(f"stored factors have different widths {sorted(widths)}")


def is_permutation(order: Any) -> bool:
    """Whether the integer array ``order`` holds each of 0..len-1 exactly once."""
    import numpy as np

    return bool(order.size == 0 or (order.min() >= 0 and order.max() < len(order)
                                    and (np.bincount(order, minlength=len(order)) == 1).all()))


def is_partition(bounds: Any, total: int) -> bool:
    """Whether ``bounds`` (1-d ints) runs from 0 to ``total`` without going back: the
    offsets of consecutive slices of an array of ``total`` elements."""
    import numpy as np

    return bool(bounds.ndim == 1 and len(bounds) >= 1 and bounds[0] == 0
                and bounds[-1] == total and (np.diff(bounds) >= 0).all())
