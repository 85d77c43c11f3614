"""The printable paper code: one A6 page (105 x 148 mm) with the signed QR, the colour and how
long it is valid in large type, the masked name, when it was printed and a short note.

fpdf2 (pure Python; it subsets the CJK font, TTC included, with fontTools and embeds only the
glyphs used, so a page is about 20 KB): reportlab would do, but is larger and takes TTC
collections less directly. The QR is drawn from the same matrix as the code image (qr.make), as
filled squares: sharp at any printer resolution."""
from __future__ import annotations

from fpdf import FPDF

from bot.infra.images import qr
from bot.infra.images.code_image import RGB

QUIET = 4  # modules of white around the symbol


def render_pdf(*, title: str, colour_word: str, colour: str, name: str, url: str, valid_until: str,
               issued_at: str, note: str, font_path: str) -> bytes:
    """The page; the words come worded (templates/chat/paper.txt)."""
    pdf = FPDF(format=(105, 148))
    pdf.set_auto_page_break(False)
    pdf.set_margins(8, 8, 8)
    pdf.add_page()
    pdf.add_font("cjk", fname=font_path)
    pdf.set_title(title)
    r, g, b = RGB[colour]
    pdf.set_text_color(r, g, b)
    pdf.set_font("cjk", size=15)
    pdf.cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=30)
    pdf.cell(0, 14, colour_word, align="C", new_x="LMARGIN", new_y="NEXT")
    # the QR: 61 mm wide, modules as squares in the code's colour
    matrix = qr.make(url)
    span = matrix.size + 2 * QUIET
    side = 61.0
    cell = side / span
    left, top = (105 - side) / 2, pdf.get_y() + 1
    pdf.set_fill_color(r, g, b)
    for row in range(matrix.size):
        line = matrix.text[row * matrix.size:(row + 1) * matrix.size]
        col = 0
        while col < matrix.size:  # runs of dark modules as one rectangle each
            if line[col] == "1":
                end = col
                while end < matrix.size and line[end] == "1":
                    end += 1
                pdf.rect(left + (QUIET + col) * cell, top + (QUIET + row) * cell, (end - col) * cell, cell, style="F")
                col = end
            else:
                col += 1
    pdf.set_y(top + side + 2)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 8, name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=15)
    pdf.cell(0, 8, valid_until, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 5, issued_at, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(0, 4.5, note, align="C")
    return bytes(pdf.output())
