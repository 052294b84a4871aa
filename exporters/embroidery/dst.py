"""A vectorised Tajima DST encoder for large stitch lists (numpy instead of a per-record Python loop).

DST: a 512-byte text header, then 3-byte records holding a relative move in 0.1 mm units. Each axis
is written in balanced ternary (digits -1/0/+1 for 1, 3, 9, 27, 81), so one record moves at most
121 units per axis. y grows upwards in DST (our stitch lists grow downwards). Trims are a short
run of jumps that returns to the same place; colour changes and the end are flag-only records.
"""

from __future__ import annotations

import numpy as np
import pyembroidery as pe

from exporters.common.errors import ExportError
from exporters.embroidery.fill import ragged_arange

HEADER_BYTES = 512
MAX_STEP = 121
# (weight, bit in the byte for +digit, bit for -digit, which byte) for x and y
_X_BITS = ((1, 0, 1, 0), (3, 0, 1, 1), (9, 2, 3, 0), (27, 2, 3, 1), (81, 2, 3, 2))
_Y_BITS = ((1, 7, 6, 0), (3, 7, 6, 1), (9, 5, 4, 0), (27, 5, 4, 1), (81, 5, 4, 2))
_TRIM_JUMPS = np.array([[2, 2], [-4, -4], [2, 2]], dtype=np.int64)


def _ternary_digits(v: np.ndarray) -> dict[int, np.ndarray]:
    """Balanced-ternary digits (-1, 0, +1) of each value, keyed by weight."""
    v = v.astype(np.int64).copy()
    out = {}
    for w in (81, 27, 9, 3, 1):
        thr = (w - 1) // 2  # the remainder must fit the smaller weights, whose sum is (w - 1) / 2
        pos = v > thr
        neg = v < -thr
        out[w] = pos.astype(np.int64) - neg.astype(np.int64)
        v -= w * out[w]
    if np.any(v != 0):
        raise ExportError("a DST record moves more than 12.1 mm; split long stitches before writing")
    return out


def _axis_table(bits: tuple) -> np.ndarray:
    """(243, 3) uint8: the record bytes that encode a move of -121..121 on one axis."""
    values = np.arange(-MAX_STEP, MAX_STEP + 1)
    digits = _ternary_digits(values)
    table = np.zeros((values.size, 3), dtype=np.uint8)
    for w, bit_pos, bit_neg, byte in bits:
        table[:, byte] |= ((digits[w] > 0).astype(np.uint8) << bit_pos) | ((digits[w] < 0).astype(np.uint8) << bit_neg)
    return table


_X_TABLE = _axis_table(_X_BITS)
_Y_TABLE = _axis_table(_Y_BITS)


def encode_records(dx: np.ndarray, dy: np.ndarray, kind: np.ndarray) -> bytes:
    """3-byte DST records. dx, dy: moves in 0.1 mm with y growing downwards; kind: pyembroidery
    command per record (STITCH, JUMP, COLOR_CHANGE or END)."""
    if np.any(np.abs(dx) > MAX_STEP) or np.any(np.abs(dy) > MAX_STEP):
        raise ExportError("a DST record moves more than 12.1 mm; split long stitches before writing")
    moving = (kind == pe.STITCH) | (kind == pe.JUMP)
    b = _X_TABLE[np.where(moving, dx, 0) + MAX_STEP] | _Y_TABLE[np.where(moving, -dy, 0) + MAX_STEP]
    b[:, 2] |= 0b11
    b[kind == pe.JUMP, 2] |= 0x80
    b[kind == pe.COLOR_CHANGE] = (0, 0, 0xC3)
    b[kind == pe.END] = (0, 0, 0xF3)
    return b.tobytes()


def _header(units: np.ndarray, records: int, color_changes: int, name: str, threads: list) -> bytes:
    lo = units.min(axis=0) if units.size else np.zeros(2, dtype=np.int64)
    hi = units.max(axis=0) if units.size else np.zeros(2, dtype=np.int64)
    last = units[-1] if units.size else np.zeros(2, dtype=np.int64)
    ax, ay = int(last[0]), -int(last[1])
    lines = [
        f"LA:{name[:16]:<16}", f"ST:{records:7d}", f"CO:{color_changes:3d}",
        f"+X:{abs(int(hi[0])):5d}", f"-X:{abs(int(lo[0])):5d}", f"+Y:{abs(int(hi[1])):5d}", f"-Y:{abs(int(lo[1])):5d}",
        f"AX:{'+' if ax >= 0 else '-'}{abs(ax):5d}", f"AY:{'+' if ay >= 0 else '-'}{abs(ay):5d}",
        "MX:+    0", "MY:+    0", "PD:******",
    ]
    text = "".join(line + "\r" for line in lines)
    extra = "".join(f"TC:{hexcol},{desc.replace(',', ' ')},{code}\r" for hexcol, desc, code in threads)
    if len(text) + len(extra) + 1 <= HEADER_BYTES:  # thread colours only when they fit the header
        text += extra
    raw = text.encode("ascii", "replace") + b"\x1a"
    return raw + b" " * (HEADER_BYTES - len(raw))


def dst_bytes(units: np.ndarray, cmds: np.ndarray, threads: list[tuple[str, str, str]] | None = None,
              name: str = "piXL design") -> bytes:
    """The whole DST file for integer stitch positions ``units`` (n, 2; 0.1 mm, y down) and pyembroidery
    commands ``cmds`` (STITCH, JUMP, TRIM, COLOR_CHANGE, END). Moves start from (0, 0)."""
    units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    cmds = np.asarray(cmds, dtype=np.int64)
    prev = np.vstack([np.zeros((1, 2), dtype=np.int64), units[:-1]])
    delta = units - prev
    is_trim = cmds == pe.TRIM
    if np.any(delta[is_trim | (cmds == pe.COLOR_CHANGE) | (cmds == pe.END)] != 0):
        raise ExportError("trims, colour changes and the end must not move the needle")
    reps = np.where(is_trim, len(_TRIM_JUMPS), 1)
    owner, k = ragged_arange(reps)
    d = delta[owner].copy()
    kind = cmds[owner].copy()
    t = is_trim[owner]
    d[t] = _TRIM_JUMPS[k[t]]
    kind[t] = pe.JUMP
    if kind.size == 0 or kind[-1] != pe.END:
        d = np.vstack([d, [[0, 0]]])
        kind = np.concatenate([kind, [pe.END]])
    body = encode_records(d[:, 0], d[:, 1], kind)
    header = _header(units, int(kind.size), int((cmds == pe.COLOR_CHANGE).sum()), name, threads or [])
    return header + body

