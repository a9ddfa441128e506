"""A photoTAN image the way banks send one: a PNG of a square dot matrix (not a decodable code: the TAN of the test
banks is fixed), large enough to see in a screenshot."""

from __future__ import annotations

import base64
import random
import struct
import zlib

_CELLS, _SCALE, _QUIET = 25, 6, 2


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _cells() -> list[list[bool]]:
    dots = random.Random(904)  # the same image every run
    grid = [[dots.random() < 0.5 for _ in range(_CELLS)] for _ in range(_CELLS)]
    for top, left in ((0, 0), (0, _CELLS - 7), (_CELLS - 7, 0)):  # the three finder squares of a matrix code
        for row in range(7):
            for column in range(7):
                ring = max(abs(row - 3), abs(column - 3))
                grid[top + row][left + column] = ring != 2
    return grid


def photo_tan_png() -> str:
    """Base64 of an 8-bit greyscale PNG, as finAPI's `photoTanData` carries it."""
    grid = _cells()
    side = (_CELLS + 2 * _QUIET) * _SCALE
    rows = []
    for y in range(side):
        cell_row = y // _SCALE - _QUIET
        line = bytearray([0])  # filter: none
        for x in range(side):
            cell_column = x // _SCALE - _QUIET
            inside = 0 <= cell_row < _CELLS and 0 <= cell_column < _CELLS
            line.append(0 if inside and grid[cell_row][cell_column] else 255)
        rows.append(bytes(line))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
    return base64.b64encode(png + _chunk(b"IEND", b"")).decode()
