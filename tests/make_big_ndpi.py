"""Rewrites an NDPI file so that everything but its header lies past 4 GiB (a sparse file: a few MB on disk).

usage: /usr/bin/python3 tests/make_big_ndpi.py IN.ndpi OUT.ndpi

NDPI's 64-bit layout (as OpenSlide's tifflike reader reads it): the first IFD's offset is 8 bytes at byte 4;
each IFD is its entry count, 12-byte entries (tag, type, count, low half of the value or its offset), an
8-byte next-IFD offset, then 4 bytes per entry holding the high half. Each page's strip and out-of-line tag
values are copied past 4.5 GiB; McuStarts (relative to the strip) keep their values, with a zero high-half
tag 65432 added. Tags are read with python3-tifffile, raw bytes from the input.
"""
import struct
import sys

import tifffile

SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8}
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
pos = 4608 << 20  # 4.5 GiB
with tifffile.TiffFile(src) as t, open(dst, "wb") as out:
    out.write(b"II*\0" + b"\0" * 12)
    patch_next = 4  # where the previous "next IFD" offset (8 bytes) goes
    for page in t.pages:
        tags = []
        for tag in page.tags.values():
            size = SIZES[tag.dtype] * tag.count
            raw = data[tag.valueoffset:tag.valueoffset + size]
            tags.append([tag.code, tag.dtype, tag.count, raw])
        offsets, counts = page.tags["StripOffsets"].value, page.tags["StripByteCounts"].value
        strip = data[offsets[0]:offsets[0] + counts[0]]
        out.seek(pos)
        out.write(strip)
        new_strip = pos
        pos += len(strip) + 16
        if any(t[0] == 65426 for t in tags):
            n = next(t for t in tags if t[0] == 65426)[2]
            tags.append([65432, 4, n, b"\0" * 4 * n])
        entries = []
        for code, dtype, count, raw in sorted(tags):
            if code == 273:
                raw = struct.pack("<I", new_strip & 0xFFFFFFFF)
                high = new_strip >> 32
                entries.append((code, 4, 1, raw, high))
                continue
            if len(raw) <= 4 and dtype != 2:
                entries.append((code, dtype, count, raw.ljust(4, b"\0"), 0))
                continue
            out.seek(pos)
            out.write(raw)
            entries.append((code, dtype, count, struct.pack("<I", pos & 0xFFFFFFFF), pos >> 32))
            pos += len(raw) + (len(raw) & 1)
        ifd = pos
        out.seek(ifd)
        out.write(struct.pack("<H", len(entries)))
        for code, dtype, count, raw, _ in entries:
            out.write(struct.pack("<HHI", code, dtype, count) + raw)
        out.write(b"\0" * 8)
        out.write(b"".join(struct.pack("<I", high) for *_, high in entries))
        out.seek(patch_next)
        out.write(struct.pack("<Q", ifd))
        patch_next = ifd + 2 + 12 * len(entries)
        pos = ifd + 2 + 16 * len(entries) + 8 + 16
