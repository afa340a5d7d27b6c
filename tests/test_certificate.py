"""PDF certificates (issue 12, point 2 "upload a PDF certificate", point 3 "download
every format the node offers"): the holder downloads a printable certificate that carries
the signed credential file; the verification page, the HR desk and ``POST
/v1/verifications`` (a file upload) take that file out of an uploaded PDF and verify it.
What verifies is the embedded file, never the printed text."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from pypdf.generic import StreamObject
from reportlab.pdfgen import canvas

from registry import certificate
from registry.web import pages
from tests.conftest import Actors
from tests.test_web_desks import hr_session, results_of, wait_done, zip_of
from tests.test_web_pages import csrf_of, issue, sign_up, text_of


def holder_pdf(client: TestClient, actors: Actors, seed: int, name: str) -> tuple[dict[str, Any], bytes]:
    """A credential issued to a new holder and its PDF certificate from the holder API."""
    officer = actors.officer()
    record = issue(client, officer, seed, name)
    holder = actors.holder(record["holderId"])
    response = client.get(f"/v1/holder/credentials/{record['id']}?format=pdf", headers=holder)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="{record["certificateNumber"]}.pdf"'
    )
    return record, response.content


def with_attachment(pdf: bytes, name: str, data: bytes) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def plain_pdf(text: str = "不是证书 not a certificate") -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out, invariant=True)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


def replaced_credential(pdf: bytes, data: bytes) -> bytes:
    """The same page with its credential file replaced (the printed text unchanged)."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter()
    writer.append_pages_from_reader(reader)
    writer.add_attachment(certificate.ATTACHMENT, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the certificate itself ---


def test_the_pdf_carries_the_credential_as_issued_and_prints_it_in_both_languages(
    client: TestClient, actors: Actors
) -> None:
    record, pdf = holder_pdf(client, actors, 301, "林青")
    assert pdf.startswith(b"%PDF-")
    carried = json.loads(certificate.embedded_credential(pdf))
    assert carried == record["verifiableCredential"]  # as issued, proof and all
    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    number = record["certificateNumber"]
    for words in ("专业技术职称证书", "Professional Title Certificate", "林青", "高级工程师", number):
        assert words in printed, words
    assert f"/verify?number={number}" in printed  # the QR code's link, printed beneath it
    assert "Senior engineer" in printed or "senior engineer" in printed.lower()


def test_rendering_is_pure(client: TestClient, actors: Actors) -> None:
    record, _ = holder_pdf(client, actors, 302, "林白")
    document = record["verifiableCredential"]
    raw = json.dumps(document).encode()
    link = certificate.verify_link("https://jiangsu.example", record["certificateNumber"])
    assert certificate.render(document, raw, link) == certificate.render(document, raw, link)
    assert link == f"https://jiangsu.example/verify?number={record['certificateNumber']}"


@pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("zbarimg")),
    reason="needs poppler-utils and zbar-tools (installed by .ci/run)",
)
def test_the_qr_code_leads_to_the_verification_page_with_the_number(
    client: TestClient, actors: Actors, tmp_path: Path
) -> None:
    record, pdf = holder_pdf(client, actors, 303, "林红")
    (tmp_path / "c.pdf").write_bytes(pdf)
    subprocess.run(
        [str(shutil.which("pdftoppm")), "-png", "-r", "150", str(tmp_path / "c.pdf"), str(tmp_path / "page")],
        check=True,
    )
    found = subprocess.run(
        [str(shutil.which("zbarimg")), "--quiet", "--raw", str(tmp_path / "page-1.png")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    base = client.app.state.node.base_url  # type: ignore[attr-defined]
    assert found == f"{base}/verify?number={record['certificateNumber']}"


def test_a_revoked_credential_gets_no_pdf_and_another_holders_none(
    client: TestClient, actors: Actors
) -> None:
    officer = actors.officer()
    record = issue(client, officer, 304, "林绿")
    other = issue(client, officer, 305, "林蓝")
    holder = actors.holder(record["holderId"])
    assert client.get(f"/v1/holder/credentials/{other['id']}?format=pdf", headers=holder).status_code == 404
    client.post(
        f"/v1/credentials/{record['id']}/revocation", json={"reasonCode": "issued_in_error"}, headers=officer
    ).raise_for_status()
    refused = client.get(f"/v1/holder/credentials/{record['id']}?format=pdf", headers=holder)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    listed = client.get("/v1/holder/credentials", headers=holder).json()
    assert listed[0]["downloads"]["pdf"] == f"/v1/holder/credentials/{record['id']}?format=pdf"


# --- reading a PDF back ---


def test_pdfs_without_one_credential_file_are_refused(client: TestClient, actors: Actors) -> None:
    _, pdf = holder_pdf(client, actors, 306, "林紫")
    blank = plain_pdf()
    cases = {
        "no attachment": blank,
        "not a PDF at all": b"%PDF-1.7 garbage \x00\xff" * 10,
        "an attachment of another kind": with_attachment(blank, "photo.png", b"\x89PNG"),
        "two credential files": with_attachment(with_attachment(blank, "a.json", b"{}"), "b.jwt", b"a.b.c"),
        "too large": pdf + b"\n%" + b"x" * certificate.MAX_PDF_BYTES,
    }
    many = blank
    for i in range(certificate.MAX_ATTACHMENTS + 1):
        many = with_attachment(many, f"f{i}.txt", b"x")
    cases["too many attachments"] = many
    refused = []
    for what, data in cases.items():
        try:
            certificate.embedded_credential(data)
        except certificate.PdfCertificateError:
            refused.append(what)
    assert refused == list(cases)


def test_a_pdf_is_verified_by_the_api_and_a_replaced_credential_is_invalid(
    client: TestClient, actors: Actors
) -> None:
    record, pdf = holder_pdf(client, actors, 307, "林橙")
    hr = actors.hr()
    answer = client.post("/v1/verifications", files={"file": ("c.pdf", pdf, "application/pdf")}, headers=hr)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "valid"
    assert answer.json()["credential"]["certificateNumber"] == record["certificateNumber"]
    forged = dict(record["verifiableCredential"])
    forged["credentialSubject"] = {**forged["credentialSubject"], "name": "冒名者"}
    swapped = replaced_credential(pdf, json.dumps(forged, ensure_ascii=False).encode())
    answer = client.post(
        "/v1/verifications", files={"file": ("c.pdf", swapped, "application/pdf")}, headers=hr
    )
    assert answer.status_code == 200
    assert answer.json()["verdict"] == "invalid"
    empty = client.post(
        "/v1/verifications", files={"file": ("c.pdf", plain_pdf(), "application/pdf")}, headers=hr
    )
    assert empty.status_code == 422
    assert empty.headers["content-type"] == "application/problem+json"
    assert "credential.vc.json" in empty.json()["detail"]


def test_the_verification_page_reads_a_pdf_certificate(client: TestClient, actors: Actors) -> None:
    record, pdf = holder_pdf(client, actors, 308, "林黄")
    token = csrf_of(client.get("/verify").text)
    page = client.post(
        "/verify", data={"csrf_token": token}, files={"file": ("证书.pdf", pdf, "application/pdf")}
    )
    assert page.status_code == 200
    assert 'data-verdict="valid"' in page.text
    text = text_of(page.text)
    assert "PDF 证书（已核验其内嵌的 VC JSON）" in text
    assert record["certificateNumber"] in text
    refused = client.post("/verify", data={"csrf_token": token}, files={"file": ("x.pdf", plain_pdf())})
    assert refused.status_code == 422
    assert "此 PDF 未携带可读取的已签名证书文件" in text_of(refused.text)
    english = client.post(
        "/verify",
        data={"csrf_token": token},
        files={"file": ("x.pdf", plain_pdf())},
        headers={"Accept-Language": "en"},
    )
    assert "This PDF carries no signed credential file" in text_of(english.text)


def test_the_hr_desk_reads_pdfs_alone_and_in_a_zip(client: TestClient, actors: Actors) -> None:
    record, pdf = holder_pdf(client, actors, 309, "林灰")
    hr_session(client, actors)
    one = client.post(
        "/hr/verify", data={"csrf_token": csrf_of(client.get("/hr").text)}, files={"file": ("c.pdf", pdf)}
    )
    assert one.status_code == 200
    assert 'data-verdict="valid"' in one.text
    archive = zip_of({"甲.pdf": pdf, "乙.pdf": plain_pdf()})
    started = client.post(
        "/hr/jobs",
        data={"csrf_token": csrf_of(client.get("/hr").text)},
        files={"file": ("pdfs.zip", archive, "application/zip")},
        follow_redirects=False,
    )
    assert started.status_code == 303, text_of(started.text)
    job = started.headers["location"]
    assert wait_done(client, f"{job}/progress")["processed"] == 2
    rows = {row[0]: row for row in results_of(client, job)[1:]}
    assert rows["甲.pdf"][1] == "有效"
    assert rows["甲.pdf"][4] == record["certificateNumber"]
    assert "此 PDF 未携带" in "".join(rows["乙.pdf"])


def test_the_portal_offers_the_pdf(client: TestClient, actors: Actors) -> None:
    officer = actors.officer()
    record = issue(client, officer, 310, "林白露")
    sign_up(client, officer, 310, record, "lin.bailu")
    home = client.get("/holder")
    assert f"/holder/credentials/{record['id']}/pdf" in home.text
    download = client.get(f"/holder/credentials/{record['id']}/pdf")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert json.loads(certificate.embedded_credential(download.content)) == record["verifiableCredential"]


def test_a_compressed_bomb_in_a_pdf_is_refused_without_inflating_it() -> None:
    """A 256 KiB PDF can hold a stream that inflates to hundreds of megabytes: reading
    stops at 1 MiB (pypdf's limit, lowered for uploads)."""
    writer = PdfWriter(clone_from=io.BytesIO(plain_pdf()))
    writer.add_attachment(certificate.ATTACHMENT, b"{" + b" " * 100_000_000 + b"}")
    for number, found in enumerate(writer._objects):  # the file's stream, Flate-compressed
        if isinstance(found, StreamObject) and found.get("/Type") == "/EmbeddedFile":
            writer._objects[number] = found.flate_encode(level=9)
    out = io.BytesIO()
    writer.write(out)
    bomb = out.getvalue()
    assert len(bomb) < certificate.MAX_PDF_BYTES  # 100 MB in ~100 KB
    with pytest.raises(certificate.PdfCertificateError, match="LimitReachedError"):
        certificate.embedded_credential(bomb)


def test_a_pdf_is_parsed_only_within_the_address_s_rate(client: TestClient) -> None:
    """Every post of the public page counts against its address before a PDF is read:
    past the limit a PDF is refused 429 unparsed (a 422 would mean it was read)."""
    token = csrf_of(client.get("/verify").text)
    answers = [
        client.post("/verify", data={"csrf_token": token}, files={"file": ("x.pdf", plain_pdf())}).status_code
        for _ in range(pages.PAGE_RATE_PER_MINUTE + 1)
    ]
    assert answers[:-1] == [422] * pages.PAGE_RATE_PER_MINUTE
    assert answers[-1] == 429
