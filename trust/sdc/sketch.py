"""Population sketches: a cell's set of units in 1.2 kB, comparable by subtraction.

An invertible Bloom lookup table (Goodrich and Mitzenmacher 2011; Eppstein et al. 2011,
"What's the difference?"). Each unit's 64-bit hash goes into one cell of each of three
sub-tables: a count, the XOR of the hashes, and the XOR of a check hash. Subtracting two
sketches cancels the units they share; peeling the cells left with a single unit lists the
units in the symmetric difference, exactly, when there are few of them. So two cells of
any size (a million claimants and the same million less one local authority's seven) are
compared in microseconds, without storing anyone's identifier.

    >>> import numpy as np
    >>> a = build(np.arange(1, 1001, dtype=np.uint64))
    >>> b = build(np.arange(1, 994, dtype=np.uint64))
    >>> difference(a, b), difference(a, a)
    (7, 0)
    >>> difference(a, build(np.arange(5000, 6000, dtype=np.uint64))) is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HASHES = 3
WIDTH = 20  # cells per sub-table: differences of up to ~20 units decode with near certainty
CELLS = HASHES * WIDTH
SCHEME = f"iblt-{HASHES}x{WIDTH}-splitmix64-v1"
_CHECK_SEED = np.uint64(0xD6E8FEB86659FD93)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of a 64-bit value."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64, copy=True)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def _positions(h: np.ndarray, mixed: np.ndarray | None = None) -> np.ndarray:
    """The cell of each hash in each sub-table, from 21-bit slices of its mix: shape (HASHES, len(h))."""
    m = _check(h) if mixed is None else mixed
    out = np.empty((HASHES, len(m)), dtype=np.int64)
    for j in range(HASHES):
        chunk = ((m >> np.uint64(21 * j)) & np.uint64(0x1FFFFF)).astype(np.int64)
        out[j] = ((chunk * WIDTH) >> 21) + j * WIDTH
    return out


def _check(h: np.ndarray) -> np.ndarray:
    return _mix(h ^ _CHECK_SEED)


@dataclass(frozen=True)
class Sketch:
    count: np.ndarray  # int64[CELLS]
    keys: np.ndarray  # uint64[CELLS]: XOR of unit hashes
    checks: np.ndarray  # uint64[CELLS]: XOR of check hashes

    def to_bytes(self) -> bytes:
        return (
            self.count.astype("<i4").tobytes() + self.keys.astype("<u8").tobytes() + self.checks.astype("<u8").tobytes()
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Sketch:
        n = CELLS
        count = np.frombuffer(raw, "<i4", n, 0).astype(np.int64)
        keys = np.frombuffer(raw, "<u8", n, 4 * n).astype(np.uint64)
        checks = np.frombuffer(raw, "<u8", n, 12 * n).astype(np.uint64)
        return cls(count, keys, checks)


def sketch_arrays(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Many stored sketches at once: (count, keys, checks), each of shape (len(blobs), CELLS)."""
    n = len(blobs)
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(n, 20 * CELLS)
    count = raw[:, : 4 * CELLS].copy().view("<i4").astype(np.int64)
    keys = raw[:, 4 * CELLS : 12 * CELLS].copy().view("<u8").astype(np.uint64)
    checks = raw[:, 12 * CELLS :].copy().view("<u8").astype(np.uint64)
    return count, keys, checks


def build_many(hashes: np.ndarray, offsets: np.ndarray) -> list[Sketch]:
    """One sketch per row from a flat array of unit hashes and the row offsets into it (Arrow list layout)."""
    rows = len(offsets) - 1
    h = np.asarray(hashes, dtype=np.uint64)
    owner = np.repeat(np.arange(rows, dtype=np.int64), np.diff(offsets).astype(np.int64))
    count = np.zeros(rows * CELLS, dtype=np.int64)
    keys = np.zeros(rows * CELLS, dtype=np.uint64)
    checks = np.zeros(rows * CELLS, dtype=np.uint64)
    chk = _check(h)
    for pos in _positions(h, chk):
        flat = owner * CELLS + pos
        count += np.bincount(flat, minlength=rows * CELLS)
        np.bitwise_xor.at(keys, flat, h)
        np.bitwise_xor.at(checks, flat, chk)
    return [
        Sketch(
            count[r * CELLS : (r + 1) * CELLS], keys[r * CELLS : (r + 1) * CELLS], checks[r * CELLS : (r + 1) * CELLS]
        )
        for r in range(rows)
    ]


def build(hashes: np.ndarray) -> Sketch:
    h = np.asarray(hashes, dtype=np.uint64)
    return build_many(h, np.array([0, len(h)]))[0]


def touched(a: Sketch, b: Sketch) -> int:
    """Cells where the two differ: each unit in the difference touches at most HASHES cells."""
    return int(((a.count != b.count) | (a.keys != b.keys)).sum())


def difference(a: Sketch, b: Sketch, limit: int | None = None) -> int | None:
    """How many units are in exactly one of the two sets, or None when there are too many to list.

    With ``limit``, sketches that cannot differ by fewer than ``limit`` units are rejected
    without peeling (each differing unit touches at most HASHES cells).
    """
    if limit is not None and touched(a, b) > HASHES * (limit - 1):
        return None
    count = a.count - b.count
    keys = a.keys ^ b.keys
    checks = a.checks ^ b.checks
    found = 0
    stack = [i for i in range(CELLS) if abs(count[i]) == 1]
    while stack:
        i = stack.pop()
        if abs(count[i]) != 1:
            continue
        key = keys[i : i + 1].copy()
        chk = _check(key)
        if chk[0] != checks[i]:
            continue
        sign = int(count[i])
        for pos in _positions(key, chk)[:, 0]:
            count[pos] -= sign
            keys[pos] ^= key[0]
            checks[pos] ^= chk[0]
            if abs(count[pos]) == 1:
                stack.append(int(pos))
        found += 1
    if count.any() or keys.any() or checks.any():
        return None
    return found


def small_difference(a: Sketch, b: Sketch, limit: int) -> tuple[int, bool] | None:
    """``(units, exact)`` when the two sets may differ by between 1 and ``limit - 1`` units, else None.

    Peeling lists the difference exactly almost always. When it cannot (two differing units
    sharing all their cells, about 1 in 300 at 9 units), few touched cells still show the
    difference is small, and the answer errs on the side of flagging: ``(lower bound, False)``.
    """
    spread = touched(a, b)
    if spread == 0 or spread > HASHES * (limit - 1):
        return None
    found = difference(a, b)
    if found is None:
        return (-(-spread // HASHES), False)
    return (found, True) if 0 < found < limit else None
