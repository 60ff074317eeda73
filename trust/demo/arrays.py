"""Seeded draws and numpy-to-Arrow conversions shared by the dataset builders.

Everything here is vectorised: the generator builds columns of millions of rows without
Python objects per row, which is what keeps scale 50 inside a few hundred MB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_SECOND = np.timedelta64(1, "s")


def rng(seed: int, dataset: int, part: int = 0) -> np.random.Generator:
    """An independent stream per (seed, dataset, part), so builders do not disturb each other."""
    return np.random.Generator(np.random.PCG64([seed, dataset, part]))


def choice(gen: np.random.Generator, weights: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights; one uniform per draw."""
    cum = np.cumsum(weights, dtype=np.float64)
    return np.minimum(np.searchsorted(cum / cum[-1], gen.random(size), side="right"), len(cum) - 1)


def choice_by_row(gen: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One index per row of a (rows, categories) weight matrix."""
    cum = np.cumsum(weights, axis=1, dtype=np.float64)
    u = gen.random(len(weights))[:, None] * cum[:, -1:]
    return np.minimum((u >= cum).sum(axis=1), weights.shape[1] - 1)


def fixed(values: np.ndarray) -> pa.Array:
    """Fixed-width bytes (all full width) to an Arrow string array without Python objects."""
    offsets = np.arange(len(values) + 1, dtype=np.int32) * values.dtype.itemsize
    return pa.StringArray.from_buffers(
        len(values), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(values).tobytes())
    )


def labels(categories: Sequence[str], codes: np.ndarray) -> pa.Array:
    return pa.array(list(categories), pa.string()).take(pa.array(codes))


def dates(start: str, end: str, u: np.ndarray) -> np.ndarray:
    """Days from start to end inclusive, one per uniform in u."""
    lo, hi = np.datetime64(start), np.datetime64(end)
    return lo + (u * ((hi - lo).astype(int) + 1)).astype(int)


def hex_ids(gen: np.random.Generator, n: int, nbytes: int) -> pa.Array:
    """n random lower-case hex strings of 2 * nbytes characters (like RTI submission ids)."""
    pairs = _HEX_PAIRS[gen.integers(0, 256, size=(n, nbytes), dtype=np.uint8)]
    return fixed(np.ascontiguousarray(pairs).view(f"S{2 * nbytes}").ravel())


def timestamps(day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Microsecond timestamps: a date plus (fractional) seconds into that day."""
    whole = np.floor(seconds)
    micros = np.round((seconds - whole) * 1e6).astype(np.int64)
    return (day.astype("datetime64[s]") + whole.astype(np.int64) * _SECOND).astype("datetime64[us]") + micros.astype(
        "timedelta64[us]"
    )


def table(schema: pa.Schema, columns: Mapping[str, pa.Array | np.ndarray]) -> pa.Table:
    return pa.Table.from_pydict(dict(columns), schema=schema)
