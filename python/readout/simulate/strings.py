"""Vectorised text columns: ISO-8601 timestamps, UUIDs and padded ids, built as Arrow arrays from numpy.

Python-level string formatting is far too slow for 10^8 rows; these helpers write ASCII digits into a
``(n, width)`` uint8 matrix and hand its buffer to Arrow without a per-row Python call.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def fixed_width(matrix: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """A ``(n, width)`` uint8 matrix of ASCII -> Arrow string array; ``valid`` False -> null."""
    n, width = matrix.shape
    data = pa.py_buffer(np.ascontiguousarray(matrix).tobytes())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    if valid is None or bool(valid.all()):
        return pa.Array.from_buffers(pa.string(), n, [None, offsets, data], null_count=0)
    bitmap = pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [bitmap, offsets, data], null_count=int(n - valid.sum()))


def _put_digits(out: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    for position in range(width - 1, -1, -1):
        out[:, column + position] = _DIGITS[values % 10]
        values = values // 10


def _date_table(first_day: int, last_day: int) -> np.ndarray:
    """``(days, 10)`` ASCII ``YYYY-MM-DD`` for each day number in [first_day, last_day]."""
    text = np.datetime_as_string(np.arange(first_day, last_day + 1).astype("M8[D]"), unit="D")
    return np.frombuffer("".join(text.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 10)


def _table(count: int, width: int, fmt: str) -> np.ndarray:
    return np.frombuffer("".join(fmt % i for i in range(count)).encode("ascii"), dtype=np.uint8).reshape(-1, width)


_TIME_OF_DAY: np.ndarray | None = None  # built lazily (0.9 MB)
_MILLIS = _table(1_000, 3, "%03d")


def _time_of_day_table() -> np.ndarray:
    global _TIME_OF_DAY  # noqa: PLW0603 - a 0.9 MB table built once, on first use
    if _TIME_OF_DAY is None:
        _TIME_OF_DAY = np.frombuffer(
            "".join(f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400)).encode("ascii"),
            dtype=np.uint8,
        ).reshape(-1, 10)
    return _TIME_OF_DAY


def iso_matrix(ms: np.ndarray) -> np.ndarray:
    """int64 milliseconds since the epoch (>= 0) -> ``(n, 24)`` ASCII of ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    ms = np.asarray(ms, dtype=np.int64)
    out = np.empty((ms.shape[0], 24), dtype=np.uint8)
    if ms.shape[0] == 0:
        return out
    days, in_day = np.divmod(ms, 86_400_000)
    first_day = int(days.min())
    dates = _date_table(first_day, int(days.max()))
    seconds, millis = np.divmod(in_day.astype(np.int32), 1_000)
    out[:, 0:10] = dates[days - first_day]
    out[:, 10:20] = _time_of_day_table()[seconds]
    out[:, 20:23] = _MILLIS[millis]
    out[:, 23] = ord("Z")
    return out


def iso_strings(ms: np.ndarray) -> pa.StringArray:
    return fixed_width(iso_matrix(ms))


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer (deterministic pseudo-random ids from counters)."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uuid_matrix(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Two uint64 words per row -> ``(n, 36)`` ASCII of a version-4 UUID."""
    words = np.empty((hi.shape[0], 2), dtype=">u8")
    words[:, 0] = hi
    words[:, 1] = lo
    raw = words.view(np.uint8).reshape(-1, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((raw.shape[0], 16, 2), dtype=np.uint8)
    np.right_shift(raw, 4, out=nibbles[:, :, 0])
    np.bitwise_and(raw, 0x0F, out=nibbles[:, :, 1])
    hexed = nibbles.reshape(-1, 32)
    hexed += 48 + (hexed > 9).view(np.uint8) * np.uint8(39)  # 0-9 -> '0'-'9', 10-15 -> 'a'-'f'
    out = np.full((raw.shape[0], 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    return out


def uuid_strings(hi: np.ndarray, lo: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    return fixed_width(uuid_matrix(hi, lo), valid)


def hashed_uuid_strings(keys: np.ndarray, salt: int, valid: np.ndarray | None = None) -> pa.StringArray:
    """UUIDs derived from non-negative integer keys: the same key and salt always give the same id."""
    k = np.asarray(keys, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(salt)
    return uuid_strings(splitmix64(k), splitmix64(k + np.uint64(1)), valid)


def prefixed_numbers(prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.StringArray:
    """``prefix`` + zero-padded decimal ``numbers`` (non-negative, < 10**width)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    out = np.empty((numbers.shape[0], head.shape[0] + width), dtype=np.uint8)
    out[:, : head.shape[0]] = head
    _put_digits(out, head.shape[0], np.where(numbers >= 0, numbers, 0), width)
    return fixed_width(out, valid)


def from_codes(codes: np.ndarray, dictionary: list[str] | tuple[str, ...]) -> pa.StringArray:
    """Integer codes into ``dictionary``; negative codes -> null."""
    codes = np.asarray(codes)
    valid = codes >= 0
    indices = pa.array(np.where(valid, codes, 0).astype(np.int32), mask=~valid)
    return pa.array(list(dictionary), type=pa.string()).take(indices)
