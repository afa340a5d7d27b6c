"""PDF certificates: a printable A4 page, Chinese first and English beside it, that
carries the signed credential.

What verifies is the credential file embedded in the PDF (``credential.vc.json``: the
credential as issued, with its eddsa-jcs-2022 proof), not the printed text: the
verification page and the HR desk take the file out of an uploaded PDF and verify it, and
show the details from the verified credential. The printed page says so. Its QR code
links to the node's verification page with the certificate number filled in
(``/verify?number=…``); the reader then enters the verification code the holder gives
them (a code is never printed: it is the holder's to give and revoke).

Built with ReportLab (the page, its QR code, and the Adobe-GB1 font STSong-Light, which
PDF readers supply, so no font file is shipped) and pypdf (the attachment, and reading
one back). Rendering is pure: the same credential and URL give the same bytes
(ReportLab's ``invariant`` mode)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pypdf import PdfReader, PdfWriter, apply_configuration
from pypdf.errors import PyPdfError
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from registry.credentials.issuance import CHINA_STANDARD_TIME
from registry.errors import InvalidInputError

#: The embedded credential's file name (and its media type, RFC 9110 and VC 2.0 §6.2).
ATTACHMENT = "credential.vc.json"
MEDIA_TYPE = "application/pdf"
#: A PDF is at most this many bytes where one is read (the verification page's limit).
MAX_PDF_BYTES = 256 * 1024
#: Attachments a PDF may have for one to be read (a certificate has one).
MAX_ATTACHMENTS = 8
#: pypdf's limits while an uploaded PDF is read: no stream inflates past 1 MiB.
_MIB = 1024 * 1024
READ_LIMITS: dict[str, Any] = {
    "maximum_declared_stream_length": MAX_PDF_BYTES,
    "array_based_stream_maximum_output_length": _MIB,
    "jbig2_maximum_output_length": _MIB,
    "lzw_maximum_output_length": _MIB,
    "run_length_maximum_output_length": _MIB,
    "zlib_maximum_output_length": _MIB,
    "zlib_maximum_recovery_input_length": MAX_PDF_BYTES,
    "image_maximum_buffer_size": _MIB,
    "xmp_maximum_input_length": _MIB,
    "outline_maximum_entries": 1000,
    "page_tree_maximum_entries": 1000,
    "page_tree_maximum_depth": 20,
}
CJK = "STSong-Light"
LATIN = "Helvetica"
HEADINGS = {
    "title": ("专业技术职称证书", "Professional Title Certificate"),
    "qualification": ("职业资格证书", "Professional Qualification Certificate"),
}

pdfmetrics.registerFont(UnicodeCIDFont(CJK))


class PdfCertificateError(InvalidInputError):
    """An uploaded PDF that carries no readable credential."""


def verify_link(base_url: str, number: str) -> str:
    """Where the certificate's QR code leads: the verification page, number filled in."""
    return f"{base_url}/verify?{urlencode({'number': number})}"


def _pair(value: Any) -> tuple[str, str]:
    """(zh, en) of a ``{"zh": …, "en": …}`` name, or the value twice."""
    if isinstance(value, Mapping):
        zh, en = value.get("zh"), value.get("en")
        return str(zh or en or ""), str(en or zh or "")
    return (str(value), str(value)) if value else ("", "")


def _china_date(value: Any) -> str:
    """An XML Schema dateTime as its date in China Standard Time (as the title was
    awarded), or as given when it is not one."""
    try:
        instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value or "")
    if instant.tzinfo is None:
        return instant.date().isoformat()
    return instant.astimezone(CHINA_STANDARD_TIME).date().isoformat()


def lines_of(document: Mapping[str, Any]) -> tuple[str, list[tuple[str, str, str, str]]]:
    """The certificate's kind (``title`` or ``qualification``) and its printed lines:
    (Chinese label, English label, Chinese value, English value)."""
    subject = document.get("credentialSubject") or {}
    kind = "title" if "title" in subject else "qualification"
    named = subject.get(kind) or {}
    name_zh, name_en = _pair(named.get("name"))
    series_zh, series_en = _pair(named.get("series"))
    level_zh, level_en = _pair(named.get("level"))
    issuer_zh, issuer_en = _pair((document.get("issuer") or {}).get("name"))
    lines = [
        ("姓名", "Name", str(subject.get("name", "")), ""),
        ("名称", "Title" if kind == "title" else "Qualification", name_zh, name_en),
        ("系列 · 级别", "Series · level", f"{series_zh} · {level_zh}", f"{series_en} · {level_en}"),
    ]
    if subject.get("specialty"):
        lines.append(("专业", "Specialty", str(subject["specialty"]), ""))
    if isinstance(subject.get("awardingBody"), Mapping):
        body_zh, body_en = _pair(subject["awardingBody"].get("name"))
        lines.append(("发证机关", "Awarding body", body_zh, body_en))
    lines += [
        ("评审委员会", "Evaluation committee", str(subject.get("evaluationCommittee", "")), ""),
        ("取得时间", "Awarded on", str(subject.get("awardedOn", "")), ""),
        ("证书编号", "Certificate number", str(subject.get("certificateNumber", "")), ""),
        ("有效期自", "Valid from", _china_date(document.get("validFrom")), ""),
    ]
    if document.get("validUntil"):
        lines.append(("有效期至", "Valid until", _china_date(document["validUntil"]), ""))
    lines.append(("签发机构", "Issued by", issuer_zh, issuer_en))
    return kind, lines


def _qr(c: canvas.Canvas, text: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(text, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (right - left), 0, 0, size / (top - bottom), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, x, y)


def render(document: Mapping[str, Any], credential_file: bytes, link: str) -> bytes:
    """The PDF certificate of ``document`` with ``credential_file`` (its VC JSON, as
    issued) embedded as :data:`ATTACHMENT` and a QR code of ``link``."""
    kind, lines = lines_of(document)
    heading_zh, heading_en = HEADINGS[kind]
    number = str((document.get("credentialSubject") or {}).get("certificateNumber", ""))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, invariant=True, pageCompression=1)
    c.setTitle(f"{heading_zh} {heading_en} {number}")
    c.setAuthor(_pair((document.get("issuer") or {}).get("name"))[0])
    c.setSubject(str(document.get("id", "")))
    width, height = A4
    c.setLineWidth(2)
    c.rect(36, 36, width - 72, height - 72)
    c.setFont(CJK, 26)
    c.drawCentredString(width / 2, height - 110, heading_zh)
    c.setFont(LATIN, 14)
    c.drawCentredString(width / 2, height - 132, heading_en)
    y = height - 190
    for zh_label, en_label, zh, en in lines:
        c.setFont(CJK, 11)
        c.drawString(72, y, zh_label)
        c.setFont(LATIN, 8)
        c.drawString(72, y - 11, en_label)
        c.setFont(CJK, 12)
        c.drawString(230, y, zh)
        if en and en != zh:
            c.setFont(LATIN, 9)
            c.drawString(230, y - 12, en)
        y -= 36
    _qr(c, link, width - 72 - 120, 96, 120)
    c.setFont(CJK, 9)
    c.drawString(width - 72 - 120, 84, "扫码核验 Scan to verify")
    c.setFont(CJK, 9)
    c.drawString(72, 130, "本证书内嵌经数字签名的电子证书文件（credential.vc.json），以在线核验结果为准。")
    c.drawString(72, 116, "核验时请向持证人索取核验码。")
    c.setFont(LATIN, 8)
    c.drawString(72, 102, f"This certificate carries its signed credential file ({ATTACHMENT}); the")
    c.drawString(72, 92, "online verification result prevails. Ask the holder for a verification code.")
    c.drawString(72, 70, link)
    c.showPage()
    c.save()
    writer = PdfWriter(clone_from=io.BytesIO(out.getvalue()))
    writer.add_attachment(ATTACHMENT, credential_file)
    result = io.BytesIO()
    writer.write(result)
    return result.getvalue()


def is_pdf(data: bytes | str) -> bool:
    return isinstance(data, bytes) and data.lstrip()[:5] == b"%PDF-"


def embedded_credential(data: bytes) -> bytes:
    """The credential file a PDF certificate carries (:data:`ATTACHMENT`, or its only
    ``.json``/``.jwt`` attachment). :class:`PdfCertificateError` when the PDF cannot
    be read or carries none."""
    if len(data) > MAX_PDF_BYTES:
        raise PdfCertificateError("a PDF certificate is at most 256 KiB")
    # A hostile PDF is at most 256 KiB, but a compressed stream in it could inflate to
    # hundreds of megabytes: every decompression is capped at a size no certificate
    # comes near (pypdf's own defaults are 75 MB), and so are its other structures.
    with apply_configuration(**READ_LIMITS):
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            attachments = reader.attachments
            names = list(attachments.keys())[: MAX_ATTACHMENTS + 1]
            if len(names) > MAX_ATTACHMENTS:
                raise PdfCertificateError("the PDF carries too many attached files to be a certificate")
            wanted = [n for n in names if n == ATTACHMENT] or [
                n for n in names if n.endswith((".json", ".jwt"))
            ]
            if len(wanted) != 1:
                raise PdfCertificateError("the PDF carries no credential file (credential.vc.json)")
            files = attachments[wanted[0]]
        except (
            PyPdfError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            RecursionError,
            MemoryError,
        ) as exc:
            raise PdfCertificateError(f"the PDF could not be read: {type(exc).__name__}") from None
    if len(files) != 1 or len(files[0]) > MAX_PDF_BYTES:
        raise PdfCertificateError("the PDF's credential file could not be read")
    return bytes(files[0])
