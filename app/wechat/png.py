"""A tiny PNG writer (for the sandbox's mini-program codes): no imaging library needed."""

from __future__ import annotations

import hashlib
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pattern_png(seed: str, cells: int = 25, scale: int = 8) -> bytes:
    """A square black-and-white pattern that is a pure function of `seed`."""
    bits = "".join(
        f"{byte:08b}" for i in range(4) for byte in hashlib.sha256(f"{seed}:{i}".encode()).digest()
    )
    size = cells * scale
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type 0
        for x in range(size):
            cell = (y // scale) * cells + (x // scale)
            row.append(0 if bits[cell % len(bits)] == "1" else 255)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )
