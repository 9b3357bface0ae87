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


# A one-page text PDF in Chinese, as an office's Word document saved as PDF: real text (selectable,
# searchable) in STSong-Light, one of the standard Chinese fonts every PDF reader provides (the
# page previews render it with the system's CJK font), so the file stays a few kilobytes.
_PDF_FONT = (
    b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H"
    b" /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light"
    b" /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >>"
    b" /FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light /Flags 6"
    b" /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880"
    b" /StemV 93 >> /DW 1000 /W [1 95 500] >>] >>"  # CIDs 1-95: the half-width ASCII set
)
_PARAGRAPHS = [
    "根据市产改办关于推进产业工人队伍建设改革的部署，我单位结合实际制定了年度工作方案，"
    "明确了责任部门、时间节点和工作措施。",
    "一是健全工作机制，成立由主要负责同志任组长的产改工作领导小组，定期研究推进；"
    "二是加强技能培训，全年组织岗位练兵和技能竞赛，参训职工覆盖一线班组；"
    "三是畅通发展通道，完善技能等级认定和职业发展体系。",
    "下一步，我单位将继续对照任务清单抓好落实，及时报送工作进展和佐证材料。",
]
_TABLE = [
    ("序号", "工作事项", "完成时间", "责任部门"),
    ("1", "制定年度产改工作方案", "3月", "党群工作部"),
    ("2", "组织职工技能竞赛", "6月", "人力资源部"),
    ("3", "开展劳模工匠进班组活动", "9月", "工会"),
    ("4", "总结评估并报送材料", "11月", "综合办公室"),
]
_PDF_WIDTH, _PDF_HEIGHT, _MARGIN = 595, 842, 64  # A4 in points


def _pdf_text(text):
    """A PDF hex string in the font's encoding (UCS-2, big-endian)."""
    return "<" + text.encode("utf-16-be").hex().upper() + ">"


def _wrap(text, size, width):
    per_line = int(width // size)  # CJK characters are one em wide
    return [text[i : i + per_line] for i in range(0, len(text), per_line)]


def _width(text, size):
    return sum(size / 2 if ord(ch) < 0x7F else size for ch in text)


def chinese_pdf(seed, *, title="产改工作佐证材料", heading="产业工人队伍建设改革工作", signed="（单位盖章）"):
    """The bytes of a one-page A4 PDF with Chinese text: a red-headed document with a title,
    paragraphs, a table of work items, a signature, a date and a seal. Deterministic."""
    rng = random.Random(seed)
    ops = ["0.698 0.133 0.133 RG 2 w", f"{_MARGIN} 770 m {_PDF_WIDTH - _MARGIN} 770 l S"]

    def text(x, y, size, line, red=False):
        colour = "0.698 0.133 0.133 rg" if red else "0.12 0.14 0.16 rg"
        ops.append(f"BT {colour} /F1 {size} Tf {x:.1f} {y:.1f} Td {_pdf_text(line)} Tj ET")

    text((_PDF_WIDTH - _width(heading, 22)) / 2, 782, 22, heading, red=True)
    text((_PDF_WIDTH - _width(title, 18)) / 2, 728, 18, title)
    y = 690
    for paragraph in _PARAGRAPHS:
        for line in _wrap("　　" + paragraph, 12, _PDF_WIDTH - 2 * _MARGIN):
            text(_MARGIN, y, 12, line)
            y -= 20
        y -= 6
    y -= 10
    widths = [50, 200, 90, 127]
    row_height = 26
    ops.append("0.47 0.5 0.55 RG 0.8 w")
    for number, row in enumerate(_TABLE):
        top = y - number * row_height
        ops.append(f"{_MARGIN} {top} m {_MARGIN + sum(widths)} {top} l S")
        x = _MARGIN
        for cell, width in zip(row, widths, strict=True):
            text(x + 6, top - 18, 11, cell)
            x += width
    bottom = y - len(_TABLE) * row_height
    ops.append(f"{_MARGIN} {bottom} m {_MARGIN + sum(widths)} {bottom} l S")
    x = _MARGIN
    for width in [0, *widths]:
        x += width
        ops.append(f"{x} {y} m {x} {bottom} l S")
    month, day = rng.randint(3, 11), rng.randint(1, 28)
    signature = [signed, f"2026年{month}月{day}日"]
    for n, line in enumerate(signature):
        text(_PDF_WIDTH - _MARGIN - _width(line, 12), bottom - 60 - n * 20, 12, line)
    ops.append("0.698 0.133 0.133 RG 2 w")  # the seal
    cx, cy, r = _PDF_WIDTH - _MARGIN - 70, bottom - 60, 38
    k = 0.5523 * r
    ops.append(
        f"{cx + r} {cy} m {cx + r} {cy + k} {cx + k} {cy + r} {cx} {cy + r} c "
        f"{cx - k} {cy + r} {cx - r} {cy + k} {cx - r} {cy} c "
        f"{cx - r} {cy - k} {cx - k} {cy - r} {cx} {cy - r} c "
        f"{cx + k} {cy - r} {cx + r} {cy - k} {cx + r} {cy} c S"
    )
    content = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_PDF_WIDTH} {_PDF_HEIGHT}]"
        " /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".encode("ascii"),
        _PDF_FONT,
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()
