"""Real evidence files for the demo, made with Pillow: a small multi-page PDF (a document with a
heading, lines of text and a table on each page) and a photo-like JPEG, so that the demo's
check-ins show thumbnails and page previews. Deterministic for a given seed."""

import io
import random

from PIL import Image, ImageDraw, ImageFont

PAGE_SIZE = (827, 1169)  # A4 at 100 dpi
PHOTO_SIZE = (1600, 1200)


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # a Pillow without FreeType: the bitmap font, one size
        return ImageFont.load_default()


def _page(rng, heading, number, total):
    page = Image.new("RGB", PAGE_SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(page)
    width, height = PAGE_SIZE
    draw.rectangle((60, 60, width - 60, 70), fill=(178, 34, 34))
    draw.text((60, 90), heading, fill=(31, 35, 41), font=_font(30))
    draw.text((60, 135), f"Page {number} / {total}", fill=(78, 89, 105), font=_font(18))
    y = 190
    for _line in range(rng.randint(8, 14)):  # lines of "text"
        draw.rectangle((60, y, 60 + rng.randint(380, width - 120), y + 9), fill=(200, 204, 212))
        y += 26
    y += 20
    rows, columns = rng.randint(4, 7), 4
    cell_w, cell_h = (width - 120) // columns, 42
    for row in range(rows + 1):  # a table
        draw.line((60, y + row * cell_h, 60 + columns * cell_w, y + row * cell_h), fill=(120, 128, 140), width=2)
    for column in range(columns + 1):
        draw.line((60 + column * cell_w, y, 60 + column * cell_w, y + rows * cell_h), fill=(120, 128, 140), width=2)
    for row in range(rows):
        for column in range(columns):
            draw.rectangle(
                (72 + column * cell_w, y + row * cell_h + 16, 60 + column * cell_w + rng.randint(40, cell_w - 20),
                 y + row * cell_h + 26),
                fill=(170, 176, 186) if row else (90, 98, 110),
            )
    y += rows * cell_h + 40
    while y < height - 140:
        draw.rectangle((60, y, 60 + rng.randint(300, width - 120), y + 9), fill=(200, 204, 212))
        y += 26
    draw.ellipse((width - 250, height - 240, width - 90, height - 80), outline=(178, 34, 34), width=5)
    return page


def sample_pdf(seed, heading="Evidence", pages=None):
    """The bytes of a PDF of 2 or 3 pages (or `pages`), each an A4 page image."""
    rng = random.Random(seed)
    total = pages or rng.randint(2, 3)
    images = [_page(rng, heading, number, total) for number in range(1, total + 1)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=100.0, quality=80)
    return buffer.getvalue()


def sample_photo(seed, size=PHOTO_SIZE, quality=85):
    """The bytes of a photo-like JPEG (sky, ground, a building with windows, people)."""
    rng = random.Random(seed)
    width, height = size
    photo = Image.new("RGB", size)
    draw = ImageDraw.Draw(photo)
    horizon = int(height * rng.uniform(0.45, 0.6))
    for y in range(height):  # sky and ground gradients
        if y < horizon:
            t = y / horizon
            colour = (int(110 + 90 * t), int(160 + 60 * t), int(225 + 20 * t))
        else:
            t = (y - horizon) / (height - horizon)
            colour = (int(120 - 40 * t), int(125 - 30 * t), int(110 - 30 * t))
        draw.line((0, y, width, y), fill=colour)
    left = int(width * rng.uniform(0.1, 0.3))
    right = int(width * rng.uniform(0.6, 0.85))
    top = int(horizon * rng.uniform(0.25, 0.5))
    draw.rectangle((left, top, right, horizon + 20), fill=(196, 186, 170))
    for wy in range(top + 30, horizon - 20, 70):
        for wx in range(left + 30, right - 50, 90):
            draw.rectangle((wx, wy, wx + 50, wy + 40), fill=(70, 95, 130))
    draw.rectangle((left, top - 40, right, top), fill=(178, 34, 34))
    for _person in range(rng.randint(5, 12)):
        x = rng.randint(0, width - 40)
        y = rng.randint(horizon + 60, height - 120)
        shirt = rng.choice([(230, 90, 40), (40, 90, 200), (240, 240, 240), (30, 30, 30)])
        draw.ellipse((x + 8, y, x + 32, y + 24), fill=(230, 190, 160))
        draw.rectangle((x, y + 26, x + 40, y + 100), fill=shirt)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
