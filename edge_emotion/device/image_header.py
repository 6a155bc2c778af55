"""An image's width and height from its file header, read before decoding it.

OpenCV has no header-only call, and it decodes whatever fits its own limit of a gigapixel
(3 GB as BGR): reading the size first lets a 20000x20000 picture be refused without
allocating it. Covers the formats ``--image`` and ``--dir`` accept.
"""

import contextlib
import struct
from pathlib import Path
from typing import BinaryIO

Size = tuple[int, int]  # width, height
JPEG_SIZE_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}  # SOFn


def image_size(path: Path) -> Size | None:
    """(width, height) of a PNG, JPEG, BMP, WebP, TIFF or PNM file; None for anything else."""
    with path.open("rb") as file, contextlib.suppress(struct.error):  # a cut-off header: let OpenCV judge
        head = file.read(64)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"\xff\xd8"):
            return _jpeg(file)
        if head.startswith(b"BM") and len(head) >= 26:
            width, height = struct.unpack("<ii", head[18:26])
            return width, abs(height)  # a negative height means rows stored top-down
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp(head)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff(file, "<" if head[:2] == b"II" else ">")
        if head[:1] == b"P" and head[1:2] in b"123456":
            return _pnm(head)
    return None


def _jpeg(file: BinaryIO) -> Size | None:
    """Walk the segments to the frame header (SOFn), which holds height then width."""
    position = 2
    while True:
        file.seek(position)
        marker = file.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        if marker[1] in JPEG_SIZE_MARKERS:
            height, width = struct.unpack(">xHH", file.read(5))
            return width, height
        position += 2 + struct.unpack(">H", marker[2:])[0]


def _webp(head: bytes) -> Size | None:
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: 24-bit sizes minus one
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8L":  # lossless: 14-bit sizes minus one, after a signature byte
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + (bits >> 14 & 0x3FFF)
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _tiff(file: BinaryIO, order: str) -> Size | None:
    """ImageWidth (256) and ImageLength (257) from the first image directory."""
    file.seek(4)
    file.seek(struct.unpack(order + "I", file.read(4))[0])
    (count,) = struct.unpack(order + "H", file.read(2))
    found = {}
    for _ in range(count):
        tag, kind, _, value = struct.unpack(order + "HHI4s", file.read(12))
        if tag in (256, 257):
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _pnm(head: bytes) -> Size | None:
    """P1-P6: the magic number, then width and height as text, with # comments allowed between."""
    words = b" ".join(line.split(b"#")[0] for line in head.splitlines()).split()
    return (int(words[1]), int(words[2])) if len(words) > 2 and words[1].isdigit() and words[2].isdigit() else None
