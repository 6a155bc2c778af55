"""An image's width and height from its file header, read before decoding it.

OpenCV has no header-only call, and it decodes whatever fits its own limit of a gigapixel
(3 GB as BGR): reading the size first lets a 20000x20000 picture be refused without
allocating it. Covers the formats ``--image`` and ``--dir`` accept.
"""

import contextlib
import os
import re
import struct
from pathlib import Path
from typing import BinaryIO

Size = tuple[int, int]  # width, height
# Start of frame, SOF0-3, 5-7, 9-11, 13-15 (0xC4 is DHT, 0xC8 JPG, 0xCC DAC): height then width.
JPEG_SIZE_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD9)}  # TEM, RST0-7, SOI: markers without a length
JPEG_NO_SIZE = {0xD9, 0xDA}  # EOI, or SOS (the scan, whose frame header must come first)
# A marker: 0xFF, any number of 0xFF fill bytes, then its code (0x00 after 0xFF is a stuffed byte, not a marker).
JPEG_MARKER = re.compile(rb"\xff+([^\x00\xff])")
CHUNK = 4096
PNM_HEADER = 4096  # bytes read for a PNM header: its comments can be long


def image_size(path: Path) -> Size | None:
    """(width, height) of a PNG, JPEG, BMP, WebP, TIFF or PNM file; None for anything else, and for a
    header that is cut off or breaks its format's rules: a caller decodes only what it could size."""
    with path.open("rb") as file, contextlib.suppress(struct.error):
        head = file.read(64)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"\xff\xd8"):
            return _jpeg(file)
        if head.startswith(b"BM"):
            if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2's BITMAPCOREHEADER: 16-bit sizes
                return struct.unpack("<HH", head[18:22])
            width, height = struct.unpack("<ii", head[18:26])
            return width, abs(height)  # a negative height means rows stored top-down
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp(head)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff(file, "<" if head[:2] == b"II" else ">")
        if head[:1] == b"P" and head[1:2] in b"123456":
            file.seek(0)
            return _pnm(file.read(PNM_HEADER))
    return None


def _jpeg(file: BinaryIO) -> Size | None:
    """Walk the segments after SOI to the frame header (SOFn), which holds height then width.

    Markers are found as libjpeg finds them, so the size read is the size it decodes: bytes
    between segments that are not a marker are passed over (libjpeg warns and goes on), as are
    any number of 0xFF fill bytes before a marker's code. None at EOI or SOS before any SOFn,
    and for a frame header without a height (DNL, which libjpeg does not decode either).
    """
    file.seek(2)
    while (code := _jpeg_marker(file)) is not None and code not in JPEG_NO_SIZE:
        if code in JPEG_SIZE_MARKERS:
            height, width = struct.unpack(">3xHH", file.read(7))  # length, precision, height, width
            return (width, height) if width and height else None
        if code not in JPEG_STANDALONE:
            (length,) = struct.unpack(">H", file.read(2))
            if length < 2:
                return None
            file.seek(length - 2, os.SEEK_CUR)
    return None


def _jpeg_marker(file: BinaryIO) -> int | None:
    """The code of the next marker from the file's position, which is left just after it; None at the end."""
    carried = b""  # a 0xFF that ended the last chunk: the next one may hold its code
    while chunk := file.read(CHUNK):
        data = carried + chunk
        if found := JPEG_MARKER.search(data):
            file.seek(found.end() - len(data), os.SEEK_CUR)
            return found.group(1)[0]
        carried = data[-1:] if data.endswith(b"\xff") else b""
    return None


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
    """P1-P6: the magic number, then width and height as text, with # comments allowed between; None
    where the header does not end within ``head`` (a height cut short would be read too small)."""
    words = b" ".join(line.split(b"#")[0] for line in head.splitlines()).split()
    if len(words) < 4 and not (len(words) == 3 and head[-1:].isspace()):
        return None  # the height's digits may go on past ``head``
    return (int(words[1]), int(words[2])) if words[1].isdigit() and words[2].isdigit() else None
