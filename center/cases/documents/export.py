"""A case document as a file: .docx (python-docx) and PDF (reportlab with the viewer's built-in CJK font
STSong-Light, so no font file ships with the platform). Pure functions: no request, no database writes."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

from center.cases.models import CaseDocument

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_MIME = "application/pdf"
#: Chinese official documents: 仿宋 for the text, 宋体/小标宋 for the title (the reader's fonts are used).
BODY_FONT, TITLE_FONT = "仿宋", "宋体"
PDF_FONT = "STSong-Light"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def filename(doc: CaseDocument, ext: str) -> str:
    """e.g. 信访事项处理意见书-青石信复〔2026〕第3号.docx (characters a file system refuses removed)."""
    stem = f"{doc.title}-{doc.doc_no}" if doc.doc_no else f"{doc.title}-{doc.id}"
    return _UNSAFE.sub("_", stem)[:120] + f".{ext}"


def content_disposition(name: str, fallback: str) -> str:
    """RFC 6266/5987: an ASCII fallback plus the UTF-8 name for every current browser."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _body_lines(doc: CaseDocument) -> list[str]:
    return doc.body.replace("\r\n", "\n").replace("\r", "\n").split("\n")


# --- .docx ------------------------------------------------------------------------------------------------------

def _east_asian(run, font: str, size_pt: float, bold: bool = False) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.name = font
    run.font.size = Pt(size_pt)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), font)


def to_docx(doc: CaseDocument) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    out = Document()
    section = out.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4 (GB/T 9704)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    core = out.core_properties
    core.title, core.subject, core.author = doc.title, doc.doc_no or "", doc.organ_name

    def centered(text: str, font: str, size: float, bold: bool = False) -> None:
        p = out.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _east_asian(p.add_run(text), font, size, bold)

    centered(doc.organ_name, TITLE_FONT, 22, bold=True)
    centered(doc.title, TITLE_FONT, 18, bold=True)
    if doc.doc_no:
        centered(doc.doc_no, BODY_FONT, 16)
    for line in _body_lines(doc):
        p = out.add_paragraph()
        p.paragraph_format.line_spacing = Pt(28)
        if line.strip() and not line.endswith("：") and line.strip() not in (doc.organ_name,):
            p.paragraph_format.first_line_indent = Pt(32)
        _east_asian(p.add_run(line), BODY_FONT, 16)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


# --- PDF ---------------------------------------------------------------------------------------------------------

def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


def to_pdf(doc: CaseDocument) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    _register_font()
    title = ParagraphStyle("title", fontName=PDF_FONT, fontSize=20, leading=30, alignment=TA_CENTER,
                           wordWrap="CJK")
    number = ParagraphStyle("number", fontName=PDF_FONT, fontSize=13, leading=22, alignment=TA_CENTER,
                            wordWrap="CJK")
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=13, leading=24, wordWrap="CJK")
    indented = ParagraphStyle("indented", parent=body, firstLineIndent=26)
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, topMargin=3.0 * cm, bottomMargin=2.8 * cm, leftMargin=2.8 * cm,
                            rightMargin=2.6 * cm, title=doc.title, author=doc.organ_name, subject=doc.doc_no or "",
                            creator="矛调通")
    story = [Paragraph(escape(doc.organ_name), title), Paragraph(escape(doc.title), title)]
    if doc.doc_no:
        story.append(Paragraph(escape(doc.doc_no), number))
    story.append(Spacer(1, 10))
    for line in _body_lines(doc):
        if not line.strip():
            story.append(Spacer(1, 8))
            continue
        style = body if line.endswith("：") or line.strip() == doc.organ_name else indented
        story.append(Paragraph(escape(line), style))
    pdf.build(story)
    return buffer.getvalue()
