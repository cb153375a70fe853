#!/usr/bin/env python3
"""Prints facts about a PNG screenshot, for tests: size, distinct colours, and how much of the
picture differs from its most common (background) colour. Stdlib only (zlib + PNG filters).

Usage: png_stats.py FILE [--baseline FILE] [--min-colors N] [--min-foreground FRACTION] [--min-teal FRACTION]
--baseline: the foreground is what differs from that picture at the same place (a screenshot of the same
  desktop without the app), and the colours are counted in the foreground only: what the app drew.
--min-teal asks for the teal of vkcube's LunarG faces (green and blue well above red).
--values prints "COLOURS FOREGROUND TEAL" (fractions in 0..1) instead of the sentence.
Exits 1 when the picture is blank by those thresholds, 2 when it is not a readable PNG (or the sizes differ).
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
    ap.add_argument("--baseline")
    ap.add_argument("--values", action="store_true")
    args = ap.parse_args()
    try:
        width, height, pixels = read_png(args.file)
        if args.baseline:
            base = read_png(args.baseline)
            if base[:2] != (width, height):
                raise ValueError("%dx%d, the baseline is %dx%d" % (width, height, base[0], base[1]))
    except (OSError, ValueError, zlib.error, TypeError, struct.error) as e:
        print("png_stats: %s: %s" % (args.file, e))
        return 2
    if args.baseline:
        drawn = [p for p, b in zip(pixels, base[2]) if p != b]
        counts = collections.Counter(drawn)
        foreground = len(drawn) / len(pixels)
        where = "differing from %s" % args.baseline.rsplit("/", 1)[-1]
    else:
        counts = collections.Counter(pixels)
        background, bg_count = counts.most_common(1)[0]
        foreground = 1.0 - bg_count / len(pixels)
        where = "background #%s" % background.hex()
    teal = sum(n for (r, g, b), n in counts.items() if g > r + 40 and b > r + 40) / len(pixels)
    if args.values:
        print("%d %.5f %.5f" % (len(counts), foreground, teal))
    else:
        print("%dx%d, %d colours, %.1f%% foreground (%s), %.2f%% teal" %
              (width, height, len(counts), 100 * foreground, where, 100 * teal))
    ok = len(counts) >= args.min_colors and foreground >= args.min_foreground and teal >= args.min_teal
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
