"""Official documents (公文) that escalation steps produce: 催办通知, 督办单, 约谈通知, 通报.

Each is rendered from a Jinja2 template under ``templates/documents/``: ``KIND.txt`` sets ``title``
and ``addressee`` and renders the body (paragraphs separated by blank lines); ``_official.html`` lays
it out the official way (issuing organ in red, document number, red rule, title, addressee, body,
signature with the date and a seal placeholder). The same parts are typeset as a PDF with reportlab's
built-in Chinese font (STSong-Light, no font file needed), so the text can be extracted back.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from domain.definitions import DOCUMENT_KINDS
from domain.vocabulary import zh_date
from notifications.render import TEMPLATES_DIR, template_environment

CJK_FONT = "STSong-Light"


@dataclass(frozen=True)
class RenderedDocument:
    kind: str
    doc_number: str
    title: str
    issuer: str
    addressee: str
    body: list[str]
    issued_on: dt.date
    html: str
    pdf: bytes


environment = template_environment(TEMPLATES_DIR / "documents")


def document_number(prefix: str, year: int, number: int) -> str:
    """``清组督〔2027〕3号`` (GB/T 9704: the year in 六角括号 〔〕, no leading zeros)."""
    return f"{prefix}〔{year}〕{number}号"


def render_document(kind: str, *, doc_number: str, issuer: str, issued_on: dt.date, context: dict[str, Any]) -> RenderedDocument:
    """Render document ``kind`` (one of ``DOCUMENT_KINDS``) as HTML and PDF."""
    if kind not in DOCUMENT_KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    values = {"issued_on": issued_on, "issuer": issuer, "doc_number": doc_number, **context}
    template = environment.get_template(f"{kind}.txt")
    module = template.make_module(values)
    title = " ".join(str(getattr(module, "title", "")).split()) or DOCUMENT_KINDS[kind]
    addressee = " ".join(str(getattr(module, "addressee", "")).split())
    paragraphs = [" ".join(chunk.split()) for chunk in str(module).split("\n\n")]
    body = [p for p in paragraphs if p]
    html = environment.get_template("_official.html").render(
        title=title, addressee=addressee, body=body, issuer=issuer, issued_on=issued_on, doc_number=doc_number)
    pdf = _pdf(title=title, addressee=addressee, body=body, issuer=issuer, issued_on=issued_on, doc_number=doc_number)
    return RenderedDocument(kind=kind, doc_number=doc_number, title=title, issuer=issuer, addressee=addressee,
                            body=body, issued_on=issued_on, html=html, pdf=pdf)


def render_official(*, title: str, addressee: str, body: list[str], issuer: str, issued_on: dt.date,
                    doc_number: str) -> tuple[str, bytes]:
    """A document written elsewhere (the desk's 三色督办单 and bulletins) in the same official layout: HTML and PDF."""
    html = environment.get_template("_official.html").render(
        title=title, addressee=addressee, body=body, issuer=issuer, issued_on=issued_on, doc_number=doc_number)
    return html, _pdf(title=title, addressee=addressee, body=body, issuer=issuer, issued_on=issued_on,
                      doc_number=doc_number)


@lru_cache(maxsize=1)
def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _pdf(*, title: str, addressee: str, body: list[str], issuer: str, issued_on: dt.date, doc_number: str) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer

    font = _register_font()
    red = colors.HexColor("#cc0000")

    def style(name: str, size: float, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.75, wordWrap="CJK", **kw)

    organ = style("organ", 24, alignment=TA_CENTER, textColor=red, spaceAfter=6 * mm)
    number = style("number", 14, alignment=TA_CENTER, spaceAfter=2 * mm)
    heading = style("title", 19, alignment=TA_CENTER, spaceBefore=6 * mm, spaceAfter=6 * mm)
    text = style("body", 14, alignment=TA_JUSTIFY, firstLineIndent=28)
    plain = style("addressee", 14)
    right = style("signature", 14, alignment=TA_RIGHT)
    seal = style("seal", 11, alignment=TA_RIGHT, textColor=red)

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=28 * mm, rightMargin=26 * mm, topMargin=37 * mm,
                            bottomMargin=35 * mm, title=f"{doc_number} {title}", author=issuer, subject=title)
    story: list[Any] = [
        Paragraph(escape(issuer), organ),
        Paragraph(escape(doc_number), number),
        HRFlowable(width="100%", thickness=1.5, color=red, spaceAfter=4 * mm),
        Paragraph(escape(title), heading),
        Paragraph(escape(addressee) + "：", plain),
    ]
    story += [Paragraph(escape(p), text) for p in body]
    story += [Spacer(1, 14 * mm), Paragraph("（印章）", seal), Paragraph(escape(issuer), right),
              Paragraph(zh_date(issued_on), right)]
    doc.build(story)
    return buffer.getvalue()
