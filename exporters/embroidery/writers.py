"""Vectorised writers for Melco EXP, Janome JEF, Brother PES version 6 (with its PEC block) and Pfaff VP3.

The per-stitch work is numpy; the per-thread header work is plain Python. EXP and JEF are byte-for-byte
what pyembroidery's writers produce for the same stitch list, PES and VP3 too except where pyembroidery
writes what the plan does not ask for (tests compare them): PEC marks every jump but the first as a trim,
and VP3 writes short moves as sewn stitches. How moves and trims are written is described in ``formats``.
Input is a finished stitch list: integer positions (0.1 mm, y down), pyembroidery commands (STITCH, JUMP,
TRIM, COLOR_CHANGE, END), every move already within the format's limits, and one pyembroidery thread per colour block.

Byte formats (public knowledge, see the pyembroidery and libembroidery format notes):
EXP: 2-byte signed (dx, -dy) per stitch; 0x80 0x04 + move for a jump; 0x80 0x80 0x07 0x00 for a
trim; 0x80 0x01 0x00 0x00 for a colour change. JEF: a header (offsets, date, counts, hoop, Janome
colour indices) then 2-byte (dx, -dy) stitches, 0x80 0x02 + move for jumps (and for trims, as
three empty jumps), 0x80 0x01 + move for colour changes, 0x80 0x10 at the end. PEC: stitches of
one byte per axis (7-bit) or two (12-bit with jump/trim flags), 0xFE 0xB0 0x0? at colour changes,
0xFF at the end, followed by 48 x 38 one-bit thumbnails. PES 6: a header with the thread list and
"CSewSeg" segment blocks, then the PEC part.
"""

from __future__ import annotations

import datetime
import struct

import numpy as np
import pyembroidery as pe
from pyembroidery.EmbThread import build_unique_palette
from pyembroidery.EmbThreadJef import get_thread_set as jef_thread_set
from pyembroidery.EmbThreadPec import get_thread_set as pec_thread_set
from pyembroidery.PecGraphics import get_blank

_STITCH, _JUMP, _TRIM, _CC, _END = pe.STITCH, pe.JUMP, pe.TRIM, pe.COLOR_CHANGE, pe.END
JEF_TRIM_JUMPS = 3  # a JEF trim is written as this many empty jumps


def _upto_end(units: np.ndarray, cmds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The records before the first END, with their moves from the previous record (from 0, 0)."""
    units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    cmds = np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK
    end = np.flatnonzero(cmds == _END)
    n = int(end[0]) if end.size else cmds.size
    return units[:n], cmds[:n]


def _deltas(units: np.ndarray) -> np.ndarray:
    prev = np.vstack([np.zeros((1, 2), dtype=np.int64), units[:-1]])
    return units - prev


def _records(slots: np.ndarray, used: np.ndarray) -> bytes:
    """Concatenate the used byte slots of each record (records x slots)."""
    return slots[used].astype(np.uint8).tobytes()


def _bounds(units: np.ndarray) -> tuple[int, int, int, int]:
    """pyembroidery's bounds: over every record, commands included."""
    if units.size == 0:
        return 0, 0, 0, 0
    lo, hi = units.min(axis=0), units.max(axis=0)
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


# ----------------------------------------------------------------------------- EXP


def exp_bytes(units: np.ndarray, cmds: np.ndarray) -> bytes:
    """A Melco EXP file for the stitch list."""
    all_units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    all_cmds = np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK
    d = _deltas(all_units)
    n = all_cmds.size
    slots = np.zeros((n, 4), dtype=np.int64)
    used = np.zeros((n, 4), dtype=bool)
    mx, my = d[:, 0] & 0xFF, -d[:, 1] & 0xFF
    st, ju = all_cmds == _STITCH, all_cmds == _JUMP
    slots[st, 0], slots[st, 1] = mx[st], my[st]
    used[st, :2] = True
    slots[ju] = np.stack([np.full(ju.sum(), 0x80), np.full(ju.sum(), 0x04), mx[ju], my[ju]], axis=1)
    used[ju] = True
    tr = all_cmds == _TRIM
    slots[tr] = (0x80, 0x80, 0x07, 0x00)
    used[tr] = True
    cc = (all_cmds == _CC) | (all_cmds == pe.STOP)
    slots[cc] = (0x80, 0x01, 0x00, 0x00)
    used[cc] = True
    return _records(slots, used)


# ----------------------------------------------------------------------------- JEF


def _jef_hoop(width: int, height: int) -> int:
    if width < 500 and height < 500:
        return 1  # 50 x 50
    if width < 1260 and height < 1100:
        return 3  # 126 x 110
    if width < 1400 and height < 2000:
        return 2  # 140 x 200
    if width < 2000 and height < 2000:
        return 4  # 200 x 200
    return 0  # 110 x 110


def jef_palette(threads: list[pe.EmbThread], blocks: int) -> list[int]:
    """Janome colour index per colour block: the nearest Janome colour (pyembroidery's colour distance);
    when two different threads in a row land on one index, the second takes its next nearest."""
    chart = list(jef_thread_set())
    out: list[int] = []
    last_index, last_thread = None, None
    for b in range(blocks):
        thread = threads[b]
        idx = thread.find_nearest_color_index(chart)
        if idx == last_index and last_thread != thread:
            held = chart[idx]
            chart[idx] = None
            idx = thread.find_nearest_color_index(chart)
            chart[last_index] = held
        out.append(idx)
        last_index, last_thread = idx, thread
    return out


def _hoop_edges(x: int, y: int) -> bytes:
    if min(x, y) >= 0:
        return struct.pack("<4i", x, y, x, y)
    return struct.pack("<4i", -1, -1, -1, -1)


def jef_bytes(units: np.ndarray, cmds: np.ndarray, threads: list[pe.EmbThread], date: str | None = None,
              trims: bool = True) -> bytes:
    """A Janome JEF file (trims written as empty jumps when ``trims``)."""
    all_units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    u, c = _upto_end(all_units, cmds)
    blocks = int((c == _CC).sum()) + 1 if c.size else 0
    palette = jef_palette(threads, blocks)
    color_count = len(palette)
    date = date or datetime.datetime.today().strftime("%Y%m%d%H%M%S")
    point_count = 1 + int((c == _STITCH).sum()) + 2 * int((c == _JUMP).sum()) + 2 * int((c == _CC).sum())
    if trims:
        point_count += 2 * JEF_TRIM_JUMPS * int((c == _TRIM).sum())
    x0, y0, x1, y1 = _bounds(all_units)
    width, height = x1 - x0, y1 - y0
    hw, hh = int(round(width / 2)), int(round(height / 2))
    head = bytearray()
    head += struct.pack("<ii", 0x74 + color_count * 8, 0x14)
    head += date.encode("utf8") + b"\x00\x00"
    head += struct.pack("<iii", color_count, point_count, _jef_hoop(width, height))
    head += struct.pack("<4i", hw, hh, hw, hh)
    for ex, ey in ((550, 550), (250, 250), (700, 1000), (700, 1000)):
        head += _hoop_edges(ex - hw, ey - hh)
    head += struct.pack(f"<{color_count}i", *palette)
    head += struct.pack(f"<{color_count}i", *([0x0D] * color_count))
    d = _deltas(u)
    n = c.size
    width_slots = 4 * JEF_TRIM_JUMPS if trims else 4
    slots = np.zeros((n, max(width_slots, 4)), dtype=np.int64)
    used = np.zeros_like(slots, dtype=bool)
    mx, my = d[:, 0] & 0xFF, -d[:, 1] & 0xFF
    st = c == _STITCH
    slots[st, 0], slots[st, 1] = mx[st], my[st]
    used[st, :2] = True
    for kind, code in ((_CC, 0x01), (pe.STOP, 0x01), (_JUMP, 0x02)):
        m = c == kind
        slots[m, 0], slots[m, 1], slots[m, 2], slots[m, 3] = 0x80, code, mx[m], my[m]
        used[m, :4] = True
    if trims:
        m = c == _TRIM
        slots[m, : 4 * JEF_TRIM_JUMPS] = np.tile([0x80, 0x02, 0x00, 0x00], JEF_TRIM_JUMPS)
        used[m, : 4 * JEF_TRIM_JUMPS] = True
    return bytes(head) + _records(slots, used) + b"\x80\x10"


# ----------------------------------------------------------------------------- PEC / PES


def _pec_value_slots(v: np.ndarray, long: np.ndarray, flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes (n, 2) and their use mask for PEC values: 7-bit short form, or 12-bit long form with flags."""
    short = ~long & (v > -64) & (v < 63)
    lv = (v & 0x0FFF) | 0x8000 | (flag << 8)
    b = np.stack([np.where(short, v & 0x7F, (lv >> 8) & 0xFF), lv & 0xFF], axis=1)
    used = np.stack([np.ones(v.size, dtype=bool), ~short], axis=1)
    return b, used


PEC_JUMP_FLAG, PEC_TRIM_FLAG = 0b00010000, 0b00100000


def pec_stitch_bytes(units: np.ndarray, cmds: np.ndarray) -> bytes:
    """The PEC stitch encoding (up to and including the end byte). Jumps carry the jump flag; a trim puts
    the trim flag on the jump right after it, or on a zero-length jump of its own when no jump follows."""
    u, c = _upto_end(units, cmds)
    n = c.size
    d = _deltas(u)
    dx, dy = d[:, 0], d[:, 1]
    # "jumping" before each record: the last JUMP/STITCH/COLOR_CHANGE before it was a JUMP (True at the start)
    setter = (c == _JUMP) | (c == _STITCH) | (c == _CC)
    last = np.where(setter, np.arange(n), -1)
    last = np.maximum.accumulate(last) if n else last
    prev_setter = np.concatenate([[-1], last[:-1]]) if n else last
    jumping = np.where(prev_setter < 0, True, c[np.maximum(prev_setter, 0)] == _JUMP)
    st, ju, cc = c == _STITCH, c == _JUMP, c == _CC
    prev_c = np.concatenate([[-1], c[:-1]]) if n else c
    next_c = np.concatenate([c[1:], [-1]]) if n else c
    lone_trim = (c == _TRIM) & (next_c != _JUMP)
    zero_first = (st & jumping & (dx != 0) & (dy != 0)) | (cc & jumping)
    slots = np.zeros((n, 6), dtype=np.int64)
    used = np.zeros((n, 6), dtype=bool)
    used[zero_first, 0:2] = True  # a (0, 0) stitch
    ones = np.ones(n, dtype=bool)
    flag = np.where(prev_c == _TRIM, PEC_TRIM_FLAG, PEC_JUMP_FLAG)
    # stitches: x then y, short or long form
    bx, ux = _pec_value_slots(dx, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64))
    by, uy = _pec_value_slots(dy, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64))
    jx, _ = _pec_value_slots(dx, ones, flag)
    jy, _ = _pec_value_slots(dy, ones, flag)
    tz, _ = _pec_value_slots(np.zeros(n, dtype=np.int64), ones, np.full(n, PEC_TRIM_FLAG))
    slots[st, 2:4], used[st, 2:4] = bx[st], ux[st]
    slots[st, 4:6], used[st, 4:6] = by[st], uy[st]
    slots[ju, 2:4], used[ju, 2:4] = jx[ju], True
    slots[ju, 4:6], used[ju, 4:6] = jy[ju], True
    slots[lone_trim, 2:4], used[lone_trim, 2:4] = tz[lone_trim], True
    slots[lone_trim, 4:6], used[lone_trim, 4:6] = tz[lone_trim], True
    k = np.cumsum(cc) - 1  # colour changes alternate 0x02, 0x01
    slots[cc, 2], slots[cc, 3] = 0xFE, 0xB0
    slots[cc, 4] = np.where(k[cc] % 2 == 0, 0x02, 0x01)
    used[cc, 2:5] = True
    body = _records(slots, used)
    has_end = np.any((np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK) == _END)
    return body + (b"\xff" if has_end else b"")


def _icon(blank: list[int], points: np.ndarray, bounds: tuple[int, int, int, int], buffer: float,
          stride: int = 6) -> bytes:
    """A PEC thumbnail: a copy of ``blank`` with the points' bits set (scaled to fit, centred)."""
    g = np.array(blank, dtype=np.int64)
    if len(points):
        left, top, right, bottom = bounds
        dw = (right - left) or 1
        dh = (bottom - top) or 1
        gw, gh = stride * 8, len(blank) / stride
        scale = min((gw - buffer) / float(dw), (gh - buffer) / float(dh))
        tx = -((right + left) / 2) * scale + gw / 2
        ty = -((bottom + top) / 2) * scale + gh / 2
        x = np.floor(points[:, 0] * scale + tx).astype(np.int64)
        y = np.floor(points[:, 1] * scale + ty).astype(np.int64)
        idx = y * stride + np.trunc(x / 8).astype(np.int64)
        ok = (idx >= -len(g)) & (idx < len(g))
        idx = np.mod(idx[ok], len(g))
        bits = np.left_shift(1, np.mod(x[ok], 8))
        np.bitwise_or.at(g, idx, bits)
    return bytes(g.astype(np.uint8))


def pec_graphics(units: np.ndarray, cmds: np.ndarray, bounds: tuple[int, int, int, int]) -> bytes:
    """The overview thumbnail (all stitches) and one thumbnail per colour block."""
    all_units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    c = np.asarray(cmds, dtype=np.int64)
    stitch = (c & pe.COMMAND_MASK) == _STITCH
    blank = get_blank()
    out = [_icon(blank, all_units[stitch], bounds, 4)]
    cc = np.flatnonzero((c & pe.COMMAND_MASK) == _CC)
    starts = np.concatenate([[0], cc + 1])
    ends = np.concatenate([cc + 1, [c.size]])
    exact = c == _STITCH  # per-colour icons use the raw command (as pyembroidery does)
    for s, e in zip(starts.tolist(), ends.tolist()):
        if s == e:
            continue
        out.append(_icon(blank, all_units[s:e][exact[s:e]], bounds, 5))
    return b"".join(out)


def _pes_string8(s: str | None) -> bytes:
    if s is None:
        return b"\x00"
    s = s[:255]
    return struct.pack("<B", len(s)) + s.encode("utf8")


def _pec_header(name: str, threads: list[pe.EmbThread]) -> tuple[bytes, list[int]]:
    out = bytearray(("LA:%-16s\r" % name[:8]).encode("utf8"))
    out += b"\x20" * 12 + b"\xff\x00" + bytes([48 // 8, 38])
    index_list = build_unique_palette(pec_thread_set(), threads)
    count = len(index_list)
    if count:
        out += b"\x20" * 12
        index_list = [count - 1] + index_list
        if index_list[0] >= 255:
            raise ValueError(f"too many colour changes for PEC ({count})")
        out += bytes(index_list)
    else:
        out += b"\x20\x20\x20\x20\x64\x20\x00\x20\x00\x20\x20\x20\xff"
    out += b"\x20" * max(0, 463 - count)
    return bytes(out), index_list


def pec_part(units: np.ndarray, cmds: np.ndarray, threads: list[pe.EmbThread], name: str
             ) -> tuple[bytes, list[int]]:
    """The PEC section (header, stitch block, thumbnails) and its colour index list."""
    bounds = _bounds(np.asarray(units, dtype=np.int64).reshape(-1, 2))
    header, index_list = _pec_header(name, threads)
    stitches = pec_stitch_bytes(units, cmds)
    width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
    block = (b"\x31\xff\xf0" + struct.pack("<HHHH", int(round(width)) & 0xFFFF, int(round(height)) & 0xFFFF,
                                           0x1E0, 0x1B0) + stitches)
    length = 2 + 3 + len(block)
    block = b"\x00\x00" + struct.pack("<I", length)[:3] + block
    return header + block + pec_graphics(units, cmds, bounds), index_list


def _pes_thread(t: pe.EmbThread) -> bytes:
    return (_pes_string8(t.catalog_number) + bytes([t.get_red(), t.get_green(), t.get_blue(), 0])
            + struct.pack("<I", 0xA) + _pes_string8(t.description) + _pes_string8(t.brand) + _pes_string8(t.chart))


def _pes_header_v6(name: str | None, threads: list[pe.EmbThread], blocks: int) -> bytes:
    out = bytearray(struct.pack("<H", 1)) + b"02"
    out += _pes_string8(name) + b"\x00" * 4  # name, then no category, author, keywords, comments
    out += struct.pack("<18H", 0, 0, 0x64, 0x64, 0, 0xC8, 0xC8, 0x64, 0x64, 0x64, 0x07, 0x13, 1, 1, 0, 100, 1, 0)
    out += b"\x00" + struct.pack("<6f", 1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    out += struct.pack("<4H", 0, 0, 0, len(threads))
    for t in threads:
        out += _pes_thread(t)
    out += struct.pack("<H", blocks)
    return bytes(out)


def _pes_segments(units: np.ndarray, cmds: np.ndarray, threads: list[pe.EmbThread]
                  ) -> tuple[bytes, int, list[tuple[int, int]]]:
    """The CSewSeg segment data: one segment per stitch run and per jump run (colour changes switch the
    colour code). Returns (bytes, number of sections, colour log)."""
    u = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    c = np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK
    x0, y0, x1, y1 = _bounds(u)
    adjust = np.array([x0, y1])  # left + centre, bottom + centre
    codes = [t.find_nearest_color_index(threads) for t in threads] or [0]
    # runs of one command
    n = c.size
    change = np.flatnonzero(np.diff(c) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [n]])
    kinds = c[starts]
    out = bytearray()
    color_i = 0
    code = codes[0]
    stitched = np.zeros(2, dtype=np.int64)
    section, prev_code, first = 0, -1, True
    log: list[tuple[int, int]] = []
    for s, e, k in zip(starts.tolist(), ends.tolist(), kinds.tolist()):
        if k == _CC:
            color_i += 1
            code = codes[color_i] if color_i < len(codes) else codes[-1]
            continue
        if k == _JUMP:
            pts = np.vstack([stitched - adjust, u[e - 1] - adjust])
            flag = 1
        elif k == _STITCH:
            pts = u[s:e] - adjust
            stitched = u[e - 1].copy()
            flag = 0
        else:
            continue
        if not first:
            out += struct.pack("<H", 0x8003)
        first = False
        if code != prev_code:
            log.append((section, code))
            prev_code = code
        out += struct.pack("<3H", flag, code, len(pts))
        out += pts.astype("<i2").tobytes()
        section += 1
    out += struct.pack("<H", len(log))
    for sec, cd in log:
        out += struct.pack("<HH", sec, cd)
    return bytes(out), section, log


def _pes_blocks(units: np.ndarray, cmds: np.ndarray, threads: list[pe.EmbThread]) -> tuple[bytes, list]:
    u = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    x0, y0, x1, y1 = _bounds(u)
    width, height = x1 - x0, y1 - y0
    seg, sections, log = _pes_segments(units, cmds, threads)
    out = bytearray(struct.pack("<H", 7) + b"CEmbOne")
    out += struct.pack("<8h", *([0] * 8))
    trans_x = 350.0 + 1300 / 2 - width / 2
    trans_y = 100.0 + height + 1800 / 2 - height / 2
    out += struct.pack("<6f", 1.0, 0.0, 0.0, 1.0, trans_x, trans_y)
    out += struct.pack("<5H", 1, 0, 0, int(width) & 0xFFFF, int(height) & 0xFFFF) + b"\x00" * 8
    out += struct.pack("<H", sections & 0xFFFF)
    out += struct.pack("<HH", 0xFFFF, 0) + struct.pack("<H", 7) + b"CSewSeg" + seg
    out += struct.pack("<HH", 0, 0)
    return bytes(out), log


def pes_bytes(units: np.ndarray, cmds: np.ndarray, threads: list[pe.EmbThread], name: str | None = None) -> bytes:
    """A Brother PES version 6 file (keeps the thread list) with its PEC part."""
    units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    out = bytearray(b"#PES0060") + b"\x00\x00\x00\x00"  # PEC offset, patched below
    if units.shape[0] == 0:
        out += _pes_header_v6(name, threads, 0) + struct.pack("<HH", 0, 0)
    else:
        out += _pes_header_v6(name, threads, 1) + struct.pack("<HH", 0xFFFF, 0)
        blocks, log = _pes_blocks(units, cmds, threads)
        out += blocks + struct.pack("<ii", 0, 0)
        for i in range(len(log)):
            out += struct.pack("<ii", i, 0)
    out[8:12] = struct.pack("<I", len(out))
    pec, index_list = pec_part(units, cmds, threads, name or "Untitled")
    out += pec
    out += bytes(index_list) + b"\x20" * (128 - len(index_list))
    out += b"\x00" * (0x90 * len(threads))
    for t in threads:
        out += struct.pack("<I", t.color & 0xFFFFFF)[:3]
    out += b"\x00\x00"
    return bytes(out)


# ----------------------------------------------------------------------------- VP3


def _be32(v: int) -> bytes:
    return struct.pack(">I", int(v) & 0xFFFFFFFF)


def _be16(v: int) -> bytes:
    return struct.pack(">H", int(v) & 0xFFFF)


def _vp3_string8(s: str) -> bytes:
    return _be16(len(s)) + s.encode("utf8")


def _vp3_string16(s: str) -> bytes:
    return _be16(len(s) * 2) + s.encode("utf-16-be")


def _vp3_thread(t: pe.EmbThread) -> bytes:
    return (b"\x01\x00" + struct.pack(">I", t.color & 0xFFFFFF)[1:] + b"\x00\x00\x00\x05\x28"
            + _vp3_string8(t.catalog_number if t.catalog_number is not None else "")
            + _vp3_string8(t.description if t.description is not None else t.hex_color())
            + _vp3_string8(t.brand if t.brand is not None else ""))


def _vp3_stitch_slots(u: np.ndarray, c: np.ndarray, block: np.ndarray, first_pos: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Bytes of every record. A sewn stitch (after a stitch of its block, nothing between) is 2 signed bytes;
    a move - the first stitch of a block, or a stitch after a jump or a trim - is the long form 0x80 0x01 +
    16-bit dx, dy + 0x80 0x02 (VP3 has no jump record: the jumps themselves write nothing and the stitch
    moves on from the previous stitch). Trims are 0x80 0x03, and so is the end unless a trim just came."""
    n = c.size
    st = c == _STITCH
    idx = np.arange(n)
    prev_st = np.maximum.accumulate(np.where(st, idx, -1)) if n else idx
    prev_st = np.concatenate([[-1], prev_st[:-1]]) if n else prev_st
    prev_move = np.maximum.accumulate(np.where((c == _JUMP) | (c == _TRIM), idx, -1)) if n else idx
    prev_move = np.concatenate([[-1], prev_move[:-1]]) if n else prev_move
    same = (prev_st >= 0) & (block[np.maximum(prev_st, 0)] == block)
    base = np.where(same[:, None], u[np.maximum(prev_st, 0)], first_pos[block])
    d = u - base
    dx, dy = d[:, 0], d[:, 1]
    small = (np.abs(dx) <= 127) & (np.abs(dy) <= 127)
    is_move = ~same | (prev_move > prev_st)
    slots = np.zeros((n, 8), dtype=np.int64)
    used = np.zeros((n, 8), dtype=bool)
    s1 = st & small & ~is_move
    slots[s1, 0], slots[s1, 1] = dx[s1] & 0xFF, dy[s1] & 0xFF
    used[s1, :2] = True
    s2 = st & ~s1
    slots[s2] = np.stack([np.full(s2.sum(), 0x80), np.full(s2.sum(), 0x01), (dx[s2] >> 8) & 0xFF, dx[s2] & 0xFF,
                          (dy[s2] >> 8) & 0xFF, dy[s2] & 0xFF, np.full(s2.sum(), 0x80), np.full(s2.sum(), 0x02)],
                         axis=1)
    used[s2] = True
    prev_c = np.concatenate([[-1], c[:-1]]) if n else c
    tr = (c == _TRIM) | ((c == _END) & (prev_c != _TRIM))
    slots[tr, 0], slots[tr, 1] = 0x80, 0x03
    used[tr, :2] = True
    return slots, used


def vp3_bytes(units: np.ndarray, cmds: np.ndarray, threads: list[pe.EmbThread]) -> bytes:
    """A Pfaff/Husqvarna VP3 file: one design, one block per colour with its thread."""
    u = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    raw = np.asarray(cmds, dtype=np.int64)
    c = raw & pe.COMMAND_MASK
    n = c.size
    x0, y0, x1, y1 = _bounds(u)
    block = np.cumsum(c == _CC)  # a colour change opens the next block
    n_blocks = int(block[-1]) + 1 if n else 1
    starts = np.concatenate([[0], np.flatnonzero(c == _CC)]).astype(np.int64)
    ends = np.concatenate([starts[1:], [n]])
    first_pos = np.where((np.arange(n_blocks) == 0)[:, None], 0, u[np.minimum(starts, max(n - 1, 0))])
    # records after a block's first END are not written
    is_end = c == _END
    end_seen = np.zeros(n, dtype=bool)
    if n:
        cum = np.cumsum(is_end)
        before = cum - is_end
        block_start_cum = before[starts][block]
        end_seen = before - block_start_cum > 0
    slots, used = _vp3_stitch_slots(u, c, block, first_pos)
    used &= ~end_seen[:, None]
    width, height = x1 - x0, y1 - y0
    half_w, half_h = width / 2, height / 2
    cx, cy = x1 - half_w, y1 - half_h
    parts = []
    for b in range(n_blocks):
        s, e = int(starts[b]), int(ends[b])
        if e > s:
            fx, fy = (0, 0) if b == 0 else (int(u[s, 0]), int(u[s, 1]))
            lx, ly = int(u[e - 1, 0]), int(u[e - 1, 1])
        else:
            fx = fy = lx = ly = 0
        thread = threads[b] if b < len(threads) else threads[-1]
        stitches = b"\x0a\xf6\x00" + slots[s:e][used[s:e]].astype(np.uint8).tobytes()
        body = (_be32(int(fx - cx) * 100) + _be32(int(-(fy - cy)) * 100) + _vp3_thread(thread)
                + _be32(int(lx - fx) * 100) + _be32(int(-(ly - fy)) * 100)
                + b"\x00\x01\x00" + _be32(len(stitches)) + stitches + b"\x00")
        parts.append(b"\x00\x05\x00" + _be32(len(body)) + body)
    design = (_be32(int(cx) * 100) + _be32(int(cy) * -100) + b"\x00\x00\x00"
              + _be32(int(half_w) * -100) + _be32(int(half_w) * 100) + _be32(int(half_h) * -100)
              + _be32(int(half_h) * 100) + _be32(int(width) * 100) + _be32(int(height) * 100) + _vp3_string16("")
              + b"\x64\x64" + _be32(4096) + _be32(0) + _be32(0) + _be32(4096) + b"xxPP\x01\x00"
              + _vp3_string16("Produced by     Software Ltd") + _be16(n_blocks) + b"".join(parts))
    design_block = b"\x00\x03\x00" + _be32(len(design)) + design
    body = (_vp3_string16("") + _be32(int(x1 * 100)) + _be32(int(y0 * -100)) + _be32(int(x0 * 100))
            + _be32(int(y1 * -100)) + _be32(n - int(is_end.sum())) + bytes([0, n_blocks & 0xFF, 12, 0, 1])
            + design_block)
    return (b"%vsm%\x00" + _vp3_string16("Produced by     Software Ltd") + b"\x00\x02\x00" + _be32(len(body))
            + body)
