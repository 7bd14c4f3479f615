"""Arrow text columns made without a Python loop per row: joins, str(), and numbers exactly as
Python's f-strings format them (f"{v:.2f}", f"{v:.3f}") by integer arithmetic on the IEEE 754 bits.

Its own module because it is no rule and no writer: the rules' reasons, plan.csv/excluded.csv and
plan.xlsx all format numbers through it (the auditor does not: it formats on its own).
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pa.large_string()  # 64-bit offsets: a column of millions of reasons may pass 2 GiB


def join_text(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise `sep.join(parts)`; a str part is the same text on every row (at least one
    part must be an array)."""
    args = [pa.scalar(p, TEXT) if isinstance(p, str) else p for p in parts]
    joined: pa.Array = pc.binary_join_element_wise(*args, pa.scalar(sep, TEXT))
    return joined


def plain_strings(values: np.ndarray) -> pa.Array | None:
    """An object array of plain str (the catalogue's text columns) as Arrow text, else None."""
    if values.dtype != object:
        return None
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return arr.cast(TEXT) if arr.type == pa.string() and arr.null_count == 0 else None


def str_text(values: np.ndarray) -> pa.Array:
    """str(v) for every element, without a Python loop for an object array of str."""
    texts = plain_strings(values)
    return texts if texts is not None else pa.array([str(v) for v in values], TEXT)


# ---- numbers as Python formats them: f"{v:.2f}", f"{v:.3f}" for whole float64 arrays

_U = np.uint64


def _big_shifts_are_zero() -> bool:
    """numpy defines x << b and x >> b as 0 for b >= 64 (C does not); checked, not assumed."""
    x = np.full(4096, 0xFFFF, _U)
    b = np.arange(4096, dtype=_U) % _U(65)
    small = np.minimum(b, _U(63))
    return bool(np.array_equal(x << b, np.where(b < 64, x << small, _U(0)))
                and np.array_equal(x >> b, np.where(b < 64, x >> small, _U(0))))


if _big_shifts_are_zero():
    def _shr(x: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """x >> bits for 0 <= bits <= 64."""
        return x >> bits

    def _shl(x: np.ndarray, bits: np.ndarray) -> np.ndarray:
        return x << bits
else:  # pragma: no cover - two steps, each below 64
    def _shr(x: np.ndarray, bits: np.ndarray) -> np.ndarray:
        half = bits >> _U(1)
        return (x >> half) >> (bits - half)

    def _shl(x: np.ndarray, bits: np.ndarray) -> np.ndarray:
        half = bits >> _U(1)
        return (x << half) << (bits - half)


def _digit_table(width: int, point: int) -> np.ndarray:
    """For i < 10**width: the text of i zero-padded to `width` digits (a '.' inserted before the
    last `point` digits when point > 0), its 4 ASCII bytes as a little-endian integer."""
    texts = (f"{i:0{width}d}" for i in range(10**width))
    if point:
        texts = (t[:-point] + "." + t[-point:] for t in texts)
    return np.frombuffer("".join(texts).encode("ascii"), dtype="<u4").astype(_U)


_DIGITS4 = _digit_table(4, 0)
_DIGITS4_HIGH = _DIGITS4 << _U(32)
_TAILS = {d: _digit_table(3, d) for d in (2, 3)}  # the last 3 digits with the point: "d.dd"
_ZEROS = _U(int.from_bytes(b"0" * 8, "little"))
_TOP = 99_999_999_999.0  # up to 11 digits; |v| * 10**digits below this is formatted here
_BLOCK = 1 << 14  # values per pass: a block's temporaries stay in the CPU cache


def _exact_round(x: np.ndarray, digits: int) -> np.ndarray:
    """round(|v| * 10**digits), half to even on the exact binary value as Python's formatting
    rounds it, for |v| < 2**52: |v| = m * 2**(e-1075) with an integer m < 2**53 (IEEE 754), so
    q = round(m * 10**digits / 2**(1075-e)) in integers below 2**64."""
    bits = x.view(_U)
    e = ((bits >> _U(52)) & _U(0x7FF)).astype(np.int64)
    m = (bits & _U((1 << 52) - 1)) | _U(1 << 52)
    m *= (e > 1011).astype(_U)  # |v| < 2**-11 (and 0, subnormals) rounds to 0
    sh = np.clip(1075 - e, 1, 63).astype(_U)
    scaled = m * _U(10**digits)  # < 2**63
    q = (scaled + ((_U(1) << (sh - _U(1))) - _U(1)) + ((scaled >> sh) & _U(1))) >> sh
    return q.view(np.int64)


def _fixed_block(x: np.ndarray, digits: int, views: np.ndarray) -> np.ndarray:
    """f"{v:.{digits}f}" for a block of float64 values, as Arrow string views with the text
    inline (int32 length, then 12 bytes; little-endian), written into `views` (n, 2) uint64.
    Returns which values it wrote; the others (12 characters and more, inf, nan) get some valid
    view of 4 to 12 bytes, for the caller to replace.

    q = round(|v| * 10**digits) comes from the float product y, which is within half an ulp of
    the exact one: rounding y gives the exact answer unless y lies within an ulp of a half, and
    those few are rounded exactly in integers. Three table look-ups of 4 characters give q as
    text zero-padded to 12 characters; it is shifted left past its padding (a 96-bit shift over
    two words), and the sign, if any, goes over the last padding zero.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # inf, nan: not formatted here
        y = np.fmin(np.abs(x) * 10.0**digits, _TOP)  # nan -> _TOP
    fits = y < _TOP
    whole = np.floor(y)
    frac = y - whole  # exact
    q = whole.astype(np.int64) + (frac > 0.5)
    near = np.flatnonzero(np.abs(frac - 0.5) <= y * 2.0**-50)  # ulp(y) <= y * 2**-52
    if near.size:
        q[near] = _exact_round(x[near], digits)
    thousands = q // 1000
    high = thousands // 10_000  # < 10**4 when fits
    lo = (_DIGITS4[np.minimum(high, 9_999)]
          | _DIGITS4_HIGH[thousands - high * 10_000])
    hi = _TAILS[digits][q - thousands * 1000]
    # leading '0' characters of the first 8 = trailing zero bytes of lo ^ "00000000"
    z = lo ^ _ZEROS
    pad = np.minimum(np.bitwise_count((z & (~z + _U(1))) - _U(1)) >> np.uint8(3),
                     np.uint8(10 - digits))  # never past the units digit: 0..8
    signed = np.flatnonzero(np.signbit(x) & fits)
    if signed.size:  # the '-' needs one padding character
        room = pad[signed] > 0
        fits[signed] &= room
        pad[signed] -= room.astype(np.uint8)
        at = pad[signed].astype(_U) << _U(3)
        lo[signed] = lo[signed] & ~(_U(0xFF) << at) | (_U(ord("-")) << at)
    shift = pad.astype(_U) << _U(3)
    lo = _shr(lo, shift) | _shl(hi, _U(64) - shift)
    hi = _shr(hi, shift)
    views[:, 0] = (_U(12) - pad) | (lo << _U(32))
    views[:, 1] = (lo >> _U(32)) | (hi << _U(32))
    return fits


def fixed_text(x: np.ndarray, digits: int) -> pa.Array:
    """f"{v:.{digits}f}" for every float64 v (digits 2 or 3), exactly as Python writes it: the
    usual values (below 10**(11-digits)) in integer arithmetic, a block at a time; the rest
    (huge, inf, nan) by Python itself."""
    if digits not in _TAILS:
        raise ValueError(f"digits {digits}: 2 or 3 only")
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    size = x.size
    views = np.empty((size, 2), dtype=_U)
    done = np.zeros(size, dtype=bool)
    if sys.byteorder == "little":  # Arrow's views are little-endian
        for start in range(0, size, _BLOCK):
            stop = min(start + _BLOCK, size)
            done[start:stop] = _fixed_block(x[start:stop], digits, views[start:stop])
    else:  # pragma: no cover
        views[:] = 0
    text = pa.Array.from_buffers(pa.string_view(), size, [None, pa.py_buffer(views)]).cast(TEXT)
    rest = np.flatnonzero(~done)
    if rest.size:
        python = pa.array([f"{v:.{digits}f}" for v in x[rest].tolist()], TEXT)
        where = np.arange(size, dtype=np.int64)
        where[rest] = size + np.arange(rest.size)
        text = pa.concat_arrays([text, python]).take(where)
    return text
