#!/usr/bin/env python3
"""Writes the image-pipeline fixtures in tests/fixtures/ (committed; rerun to regenerate).

Usage:
  scripts/make-fixtures.py                   # every fixture into tests/fixtures/
  scripts/make-fixtures.py --photo W H OUT   # a photo-like JPEG for benchmarks (not committed)

Needs Pillow (`pip install pillow`). Everything is seeded, so reruns give the same pictures.
"""

import io
import random
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

RED = (220, 30, 30)
GREEN = (30, 200, 60)
BLUE = (30, 60, 220)
YELLOW = (240, 220, 30)

# Pillow's transpose that undoes each EXIF orientation's display transform: the stored pixels
# are the upright picture with the inverse applied, so a correct reader sees it upright.
INVERSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def quadrants(width, height):
    """Upright test card: red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    card = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(card)
    half_w, half_h = width // 2, height // 2
    draw.rectangle([0, 0, half_w - 1, half_h - 1], fill=RED)
    draw.rectangle([half_w, 0, width - 1, half_h - 1], fill=GREEN)
    draw.rectangle([0, half_h, half_w - 1, height - 1], fill=BLUE)
    draw.rectangle([half_w, half_h, width - 1, height - 1], fill=YELLOW)
    return card


def jpeg_bytes(image, **options):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def png_bytes(image, **options):
    out = io.BytesIO()
    image.save(out, "PNG", **options)
    return out.getvalue()


def png_chunk(kind, data):
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def raw_png(width, height, bit_depth, colour_type, rows):
    """A PNG written by hand, for what Pillow cannot write (16-bit RGB, lying headers)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows, 9))
        + png_chunk(b"IEND", b"")
    )


def photo_like(width, height, seed=7):
    """Smooth colour fields, edges, texture and grain: compresses and decodes like a photo."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (12, 9), rng.randbytes(12 * 9 * 3))
    picture = small.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(picture)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 40, width // 6)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            draw.line([x - r, y, x + r, y + r // 2], fill=colour, width=max(2, r // 10))
    picture = picture.filter(ImageFilter.GaussianBlur(radius=max(1, width // 800)))
    texture = Image.frombytes(
        "L", (width // 8, height // 8), rng.randbytes((width // 8) * (height // 8))
    ).resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    grain = Image.blend(texture, grain, 0.35)
    picture = Image.blend(picture, Image.merge("RGB", (grain, grain, grain)), 0.22)
    return picture


def write(name, data):
    (FIXTURES / name).write_bytes(data)
    print(f"{name:32} {len(data):>8} bytes")


def main():
    FIXTURES.mkdir(parents=True, exist_ok=True)

    # EXIF orientations 1-8: 1600x1200, large enough that JPEG shrink-on-load (1/2) applies.
    upright = quadrants(1600, 1200)
    for orientation, inverse in INVERSE.items():
        stored = upright if inverse is None else upright.transpose(inverse)
        exif = Image.Exif()
        exif[0x0112] = orientation
        write(f"orientation-{orientation}.jpg", jpeg_bytes(stored, exif=exif.tobytes()))

    # GPS EXIF plus a camera name: none of it may survive.
    exif = Image.Exif()
    exif[0x010F] = "VisageTestCam"
    exif[0x0110] = "SecretModel"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    write("gps-exif.jpg", jpeg_bytes(quadrants(640, 480), exif=exif.tobytes()))

    # CMYK JPEG (Adobe APP14), a red field.
    write("cmyk.jpg", jpeg_bytes(Image.new("CMYK", (64, 64), (0, 255, 255, 0))))

    # Progressive and greyscale JPEGs.
    write("progressive.jpg", jpeg_bytes(quadrants(800, 600), progressive=True))
    write("greyscale.jpg", jpeg_bytes(quadrants(200, 200).convert("L")))

    # 16-bit RGB PNG: a red field (0xDC00, 0x1E00, 0x1E00).
    pixel16 = struct.pack(">HHH", RED[0] << 8, RED[1] << 8, RED[2] << 8)
    rows = b"".join(b"\x00" + pixel16 * 48 for _ in range(48))
    write("rgb16.png", raw_png(48, 48, 16, 2, rows))

    # Grey+alpha PNG: opaque grey left half, fully transparent right half.
    grey_alpha = Image.new("LA", (64, 64), (128, 255))
    ImageDraw.Draw(grey_alpha).rectangle([32, 0, 63, 63], fill=(0, 0))
    write("grey-alpha.png", png_bytes(grey_alpha))

    # RGBA PNG that is fully opaque: the alpha channel is dropped, output is JPEG.
    write("opaque-rgba.png", png_bytes(quadrants(100, 100).convert("RGBA")))

    # WebP, lossy.
    out = io.BytesIO()
    quadrants(320, 240).save(out, "WEBP", quality=90)
    write("quadrants.webp", out.getvalue())

    # Animated GIF, 120 frames: the first red, every other one blue.
    frames = [Image.new("RGB", (64, 64), RED)] + [
        Image.new("RGB", (64, 64), BLUE if i % 2 else GREEN) for i in range(119)
    ]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)
    write("animated-120-frames.gif", out.getvalue())

    # Pixel flood: a PNG whose header claims 100000x100000, with a little data.
    write("pixel-flood-100000.png", raw_png(100_000, 100_000, 8, 2, b"\x00" * 300_001))

    # A JPEG whose SOF claims 65500x65500.
    sof_jpeg = bytearray(jpeg_bytes(quadrants(64, 64)))
    sof = sof_jpeg.find(b"\xff\xc0")
    struct.pack_into(">HH", sof_jpeg, sof + 5, 65500, 65500)
    write("sof-65500.jpg", bytes(sof_jpeg))

    # Truncated files: cut in the middle of the pixel data.
    whole_png = png_bytes(photo_like(128, 128))
    write("truncated.png", whole_png[: len(whole_png) // 2])
    whole_jpeg = jpeg_bytes(photo_like(256, 256))
    write("truncated.jpg", whole_jpeg[: len(whole_jpeg) // 2])

    # A polyglot: a valid PNG with an HTML/script tail.
    tail = b"<html><body><script>alert('visage')</script></body></html>"
    write("png-html-tail.png", png_bytes(quadrants(64, 64)) + tail)

    # Not images.
    write(
        "image.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        b'<script>alert(1)</script><rect width="64" height="64"/></svg>\n',
    )
    write("page.html", b"<!doctype html><html><body><script>alert(1)</script></body></html>\n")
    write(
        "document.pdf",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    )

    # Too small, and nothing at all.
    write("one-pixel.png", png_bytes(Image.new("RGB", (1, 1), RED)))
    write("narrow-15x64.png", png_bytes(Image.new("RGB", (15, 64), RED)))
    write("empty.bin", b"")

    # A small photo, scaled up to the master size.
    write("small-100.jpg", jpeg_bytes(photo_like(100, 100)))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--photo":
        width, height, target = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        photo_like(width, height).save(target, "JPEG", quality=90)
    elif len(sys.argv) == 1:
        main()
    else:
        sys.exit(__doc__)
