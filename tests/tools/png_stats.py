#!/usr/bin/env python3
"""Prints facts about a PNG screenshot, for tests: size, distinct colours, and how much of the
picture differs from its most common (background) colour. Stdlib only (zlib + PNG filters).

Usage: png_stats.py FILE [--min-colors N] [--min-foreground FRACTION] [--min-teal FRACTION]
--min-teal asks for the teal of vkcube's LunarG faces (green and blue well above red).
Exits 1 when the picture is blank by those thresholds, 2 when it is not a readable PNG.
"""
import argparse
import collections
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type, _, _, interlace = header
    if depth != 8 or interlace != 0 or color_type not in (2, 6):
        raise ValueError("unsupported PNG layout (depth %d, colour type %d)" % (depth, color_type))
    bpp = 4 if color_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    pixels = [row[x * bpp:x * bpp + 3] for row in rows for x in range(width)]
    return width, height, pixels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--min-colors", type=int, default=8)
    ap.add_argument("--min-foreground", type=float, default=0.02)
    ap.add_argument("--min-teal", type=float, default=0.0)
    args = ap.parse_args()
    try:
        width, height, pixels = read_png(args.file)
    except (OSError, ValueError, zlib.error, TypeError, struct.error) as e:
        print("png_stats: %s: %s" % (args.file, e))
        return 2
    counts = collections.Counter(pixels)
    background, bg_count = counts.most_common(1)[0]
    foreground = 1.0 - bg_count / len(pixels)
    teal = sum(n for (r, g, b), n in counts.items() if g > r + 40 and b > r + 40) / len(pixels)
    print("%dx%d, %d colours, %.1f%% foreground (background #%s), %.2f%% teal" %
          (width, height, len(counts), 100 * foreground, background.hex(), 100 * teal))
    ok = len(counts) >= args.min_colors and foreground >= args.min_foreground and teal >= args.min_teal
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
