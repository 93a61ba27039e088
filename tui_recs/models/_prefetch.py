"""A cache prefetch hint for the Numba kernels (LLVM's ``llvm.prefetch``).

The kernels read factor rows at random places of large arrays (ALS's conjugate-gradient
gather, BPR's and logistic MF's sampled triples): issuing the loads of the next rows early
lets their cache misses overlap with the current row's arithmetic.
"""

from __future__ import annotations

from llvmlite import ir

from tui_recs.models._numba import numba
from numba.core import cgutils, types  # noqa: E402,I001  (after _numba's cache-dir set-up)
from numba.extending import intrinsic  # noqa: E402

_JIT = dict(cache=True, nogil=True)


@intrinsic
def prefetch(typingctx, array, index):  # pragma: no cover - compiled into the kernels
    """A hint to load the cache line of ``array[index]`` (1-D), for reading, into every
    cache level; it changes no value and never faults."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [index],
                                           wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        # declare_intrinsic names it for the pointer type llvmlite emits (typed or opaque).
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32,
                                                                   int32]))
        # (address, 0: read, 3: keep in all levels, 1: data cache)
        builder.call(function, [builder.bitcast(pointer, byte_pointer), int32(0), int32(3),
                                int32(1)])
        return context.get_dummy_value()
    return types.void(array, index), codegen


@numba.njit(inline="always", **_JIT)
def prefetch_row(row):  # pragma: no cover - jitted
    """Hints for every 64-byte line of a float32 row (its start need not be aligned)."""
    for k in range(0, len(row), 16):
        prefetch(row, k)
    prefetch(row, len(row) - 1)
