"""Helpers of the embroidery tests: a small logo pattern, and readers that look at written files the way a
machine does (which records are sewn, how moves and trims are encoded), independent of the exporter's code."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyembroidery as pe
from PIL import Image, ImageDraw

from engine.core.medium import THREAD
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern

LOGO_CODES = ("321", "796", "3820", "702")  # red ring, blue square, yellow letters and dots, green bar


def logo_pattern(size: int = 40) -> Pattern:
    """A size x size logo on an empty background: a ring, a square with letters, a diagonal bar, dots."""
    dmc = load_palette("dmc")
    img = Image.new("P", (size, size), 0)
    d = ImageDraw.Draw(img)
    d.ellipse([1, 1, size - 2, size - 2], outline=1, width=4)
    d.rectangle([size // 4, size * 3 // 10, size * 3 // 4 - 1, size * 7 // 10 - 1], fill=2)
    d.text((size * 3 // 10, size * 13 // 40), "PX", fill=3)
    d.line([size // 8, size * 7 // 8 - 1, size * 7 // 8 - 1, size // 8], fill=4, width=2)
    for x, y in ((3, 3), (size - 4, 3), (3, size - 4), (size - 4, size - 4), (size // 2, size - 7)):
        d.point((x, y), fill=3)
    a = np.asarray(img)
    index = np.zeros(a.shape, dtype=np.int64)
    for k, code in enumerate(LOGO_CODES, start=1):
        index[a == k] = dmc.index_of(code)
    return Pattern(index, dmc, a == 0, THREAD, metadata={"name": "logo"})


def read_records(path: str | Path, reader=pe, **settings) -> tuple[np.ndarray, np.ndarray]:
    """(xy in 0.1 mm, commands) of a file read with pyembroidery (or pystitch: ``reader``)."""
    p = reader.read(str(path), settings or None)
    st = np.asarray(p.stitches, dtype=np.float64).reshape(-1, 3)
    return st[:, :2], st[:, 2].astype(np.int64) & reader.COMMAND_MASK


def sewn_segments(xy: np.ndarray, cmd: np.ndarray, stitch: int = pe.STITCH) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every sewn stitch: a needle penetration right after another one, thread between them."""
    s = np.flatnonzero((cmd[1:] == stitch) & (cmd[:-1] == stitch)) + 1
    return xy[s - 1], xy[s]


def jump_runs(cmd: np.ndarray, jump: int = pe.JUMP) -> np.ndarray:
    """Lengths of the runs of consecutive jump records."""
    is_jump = np.concatenate([[False], cmd == jump, [False]]).astype(np.int8)
    d = np.diff(is_jump)
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)


# ----------------------------------------------------------------------------- VP3 bytes


def _skip_string(data: bytes, i: int) -> int:
    (n,) = struct.unpack(">H", data[i:i + 2])
    return i + 2 + n


def vp3_stitch_records(path: str | Path) -> list[list[tuple[str, int, int]]]:
    """The stitch records of each colour block of a VP3 file as written: ("short", dx, dy) for the 2-byte
    form, ("long", dx, dy) for 0x80 0x01 dx dy 0x80 0x02, ("trim", 0, 0) for 0x80 0x03. Follows the
    file's structure (tags, lengths, strings) as public VP3 notes describe it."""
    data = Path(path).read_bytes()
    assert data[:6] == b"%vsm%\x00"
    i = _skip_string(data, 6)
    assert data[i:i + 3] == b"\x00\x02\x00"
    i = _skip_string(data, i + 7)  # tag, length, settings string
    i += 16 + 4 + 4  # extents, stitch count, then 0, colour blocks, 12, 0
    assert data[i] == 1  # one design
    i += 1
    assert data[i:i + 3] == b"\x00\x03\x00"
    i += 7 + 8 + 3 + 16 + 8
    i = _skip_string(data, i)
    i += 2 + 16
    assert data[i:i + 4] == b"xxPP"
    i = _skip_string(data, i + 6)
    (blocks,) = struct.unpack(">H", data[i:i + 2])
    i += 2
    out = []
    for _ in range(blocks):
        assert data[i:i + 3] == b"\x00\x05\x00"
        (length,) = struct.unpack(">I", data[i + 3:i + 7])
        end = i + 7 + length
        j = i + 7 + 8 + 2 + 3 + 5  # start position, thread head, colour, type/weight
        for _ in range(3):
            j = _skip_string(data, j)
        j += 8  # block shift
        assert data[j:j + 3] == b"\x00\x01\x00"
        (n,) = struct.unpack(">I", data[j + 3:j + 7])
        j += 7
        assert data[j:j + 3] == b"\x0a\xf6\x00"
        k, stop = j + 3, j + n
        recs = []
        while k < stop:
            x, y = data[k], data[k + 1]
            if x != 0x80:
                recs.append(("short", struct.unpack("b", bytes([x]))[0], struct.unpack("b", bytes([y]))[0]))
                k += 2
            elif y == 0x01:
                dx, dy = struct.unpack(">hh", data[k + 2:k + 6])
                assert data[k + 6:k + 8] == b"\x80\x02"
                recs.append(("long", dx, dy))
                k += 8
            elif y == 0x03:
                recs.append(("trim", 0, 0))
                k += 2
            else:
                raise AssertionError(f"unknown VP3 record 80 {y:02x}")
        out.append(recs)
        i = end
    return out


# ----------------------------------------------------------------------------- cross stitch


def cells_not_ending_on_top_leg(xy_mm: np.ndarray, cmd: np.ndarray, width: int, height: int, cw: float, ch: float,
                                tol_mm: float = 0.16) -> tuple[int, list[tuple[int, int]]]:
    """Replay the sewn stitches (xy in mm from the design's top-left corner, y down) and return (cells covered,
    cells whose last covering stitch is not on their top leg "/" - the diagonal from bottom-left to top-right)."""
    a, b = sewn_segments(xy_mm, cmd)
    length = np.hypot(*(b - a).T)
    n = np.maximum(np.ceil(length / 0.05).astype(np.int64), 1)
    owner = np.repeat(np.arange(len(a)), n)
    t = (np.arange(owner.size) - np.repeat(np.cumsum(n) - n, n) + 0.5) / n[owner]
    p = a[owner] + t[:, None] * (b[owner] - a[owner])
    fx, fy = p[:, 0] / cw, p[:, 1] / ch
    inner = (np.abs(fx - np.round(fx)) > 0.02) & (np.abs(fy - np.round(fy)) > 0.02)  # not on a cell border
    c, r, owner = np.floor(fx[inner]).astype(np.int64), np.floor(fy[inner]).astype(np.int64), owner[inner]
    ok = (c >= 0) & (c < width) & (r >= 0) & (r < height)
    c, r, owner = c[ok], r[ok], owner[ok]
    last = np.full(height * width, -1, dtype=np.int64)
    np.maximum.at(last, r * width + c, owner)  # segments are numbered in sewing order
    covered = np.flatnonzero(last >= 0)
    rr, cc = covered // width, covered % width
    k = last[covered]

    def off_diagonal(q: np.ndarray) -> np.ndarray:
        return np.abs(q[:, 0] / cw + q[:, 1] / ch - (cc + rr + 1)) * min(cw, ch) > tol_mm

    bad = off_diagonal(a[k]) | off_diagonal(b[k])
    return int(covered.size), list(zip(rr[bad].tolist(), cc[bad].tolist()))
