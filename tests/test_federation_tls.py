"""The demo certificate authority (registry.federation.tls): certificates verify with
cryptography's X.509 verifier, the CA cannot certify anything but loopback, key files are
private, and a real uvicorn https server is trusted through the CA file and only so."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.federation.client import (
    ENTITY_STATEMENT,
    OutboundPolicy,
    PeerClient,
    PeerTransportError,
    make_http_client,
)
from registry.federation.tls import (
    CertificateAuthority,
    client_ssl_context,
    make_certificate_authority,
    make_server_certificate,
    write_demo_tls,
)
from tests.loopback import serve_in_thread

NOW = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return make_certificate_authority(now=NOW)


def verify(
    ca: CertificateAuthority, leaf: x509.Certificate, subject: x509.verification.Subject, at: datetime
) -> list[x509.Certificate]:
    store = Store([ca.certificate])
    verifier = PolicyBuilder().store(store).time(at).build_server_verifier(subject)
    return verifier.verify(leaf, [])


# --- the certificates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
        x509.IPAddress(ipaddress.IPv6Address("::1")),
    ],
    ids=["localhost", "127.0.0.1", "::1"],
)
def test_the_server_chain_verifies(ca: CertificateAuthority, subject: x509.verification.Subject) -> None:
    server = make_server_certificate(ca, now=NOW, label="32")
    chain = verify(ca, server.certificate, subject, NOW + timedelta(days=1))
    assert chain == [server.certificate, ca.certificate]


def test_the_chain_does_not_verify_for_other_names_or_outside_its_validity(ca: CertificateAuthority) -> None:
    server = make_server_certificate(ca, now=NOW, hosts=["127.0.0.1"])
    with pytest.raises(VerificationError):
        verify(ca, server.certificate, x509.DNSName("localhost"), NOW)  # not among its names
    with pytest.raises(VerificationError):
        verify(ca, server.certificate, x509.IPAddress(ipaddress.IPv4Address("127.0.0.2")), NOW)
    with pytest.raises(VerificationError):
        verify(
            ca,
            server.certificate,
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            NOW + timedelta(days=8),
        )
    with pytest.raises(VerificationError):
        verify(
            ca,
            server.certificate,
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            NOW - timedelta(hours=1),
        )
    other = make_certificate_authority(now=NOW)
    with pytest.raises(VerificationError):
        verify(other, server.certificate, x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), NOW)


def test_ca_fields(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    assert cert.subject == cert.issuer
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert not usage.digital_signature
    names = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert names.critical
    assert set(names.value.permitted_subtrees or []) == {
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.IPv4Network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.IPv6Network("::1/128")),
    }
    assert cert.not_valid_after_utc - NOW == timedelta(days=30)
    assert NOW - cert.not_valid_before_utc == timedelta(minutes=5)


def test_server_fields(ca: CertificateAuthority) -> None:
    cert = make_server_certificate(
        ca, now=NOW, hosts=["localhost", "node.localhost", "127.0.0.1"]
    ).certificate
    assert cert.issuer == ca.certificate.subject
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "node.localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.IPv4Address("127.0.0.1")]
    assert cert.not_valid_after_utc - NOW == timedelta(days=7)
    # The common name is a label, not a host (clients match SANs only).
    assert "registry demo" in cert.subject.rfc4514_string()


def test_a_server_certificate_never_outlives_its_ca() -> None:
    short_ca = make_certificate_authority(now=NOW, validity=timedelta(days=2))
    cert = make_server_certificate(short_ca, now=NOW).certificate
    assert cert.not_valid_after_utc == short_ca.certificate.not_valid_after_utc


@pytest.mark.parametrize(
    "host", ["example.com", "localhost.example.com", "10.0.0.1", "192.168.1.10", "fe80::1", "Local Host", ""]
)
def test_the_demo_ca_certifies_loopback_only(ca: CertificateAuthority, host: str) -> None:
    with pytest.raises(ValueError, match=r"loopback|DNS name"):
        make_server_certificate(ca, now=NOW, hosts=[host])


def test_name_constraints_hold_even_for_a_certificate_made_behind_our_back(ca: CertificateAuthority) -> None:
    # Whoever held the CA key could sign for any name; verifiers refuse it all the same.
    key = ec.generate_private_key(ec.SECP256R1())
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(minutes=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bank.example")]), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()), critical=False
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    with pytest.raises(VerificationError, match=r"(?i)constraint"):
        verify(ca, forged, x509.DNSName("bank.example"), NOW)


def test_times_must_be_timezone_aware(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="timezone"):
        make_certificate_authority(now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone"):
        make_server_certificate(ca, now=NOW.replace(tzinfo=None))


# --- the files ---------------------------------------------------------------------------------


def test_files_are_written_with_private_keys_0600(tmp_path: Path) -> None:
    folder = tmp_path / "demo" / "tls"
    files = write_demo_tls(folder, ["anchor", "31", "32", "33", "34"], now=NOW)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert files.ca_file == folder / "ca.pem"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["ca.pem", *(f"{n}.pem" for n in files.cert_files), *(f"{n}-key.pem" for n in files.key_files)]
    )
    ca_cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    for name in ["anchor", "31", "32", "33", "34"]:
        assert stat.S_IMODE(files.key_files[name].stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate(files.cert_files[name].read_bytes())
        key = serialization.load_pem_private_key(files.key_files[name].read_bytes(), password=None)
        assert cert.public_key() == key.public_key()
        assert cert.issuer == ca_cert.subject
        cert.verify_directly_issued_by(ca_cert)
    # The CA key is not written anywhere.
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in folder.iterdir() if "-key" not in p.name)


def test_rewriting_replaces_the_files_and_keeps_the_modes(tmp_path: Path) -> None:
    first = write_demo_tls(tmp_path, ["anchor"], now=NOW)
    old_key = first.key_files["anchor"].read_bytes()
    first.key_files["anchor"].chmod(0o644)  # someone loosened it; a new run tightens it again
    second = write_demo_tls(tmp_path, ["anchor"], now=NOW)
    assert second.key_files["anchor"].read_bytes() != old_key
    assert stat.S_IMODE(second.key_files["anchor"].stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("names", [["../etc"], ["ca"], ["Anchor"], [""], ["31", "31"]])
def test_server_names_must_be_safe_file_names(tmp_path: Path, names: list[str]) -> None:
    with pytest.raises(ValueError, match="server name"):
        write_demo_tls(tmp_path, names, now=NOW)
    assert list(tmp_path.iterdir()) == []


# --- a real https server on 127.0.0.1 -----------------------------------------------------------


@contextmanager
def serve_https(app: Starlette, cert_file: Path, key_file: Path) -> Iterator[int]:
    """Runs ``app`` with uvicorn over TLS in a thread on a free loopback port."""
    with serve_in_thread(app, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as port:
        yield port


@pytest.fixture(scope="module")
def https_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    async def configuration(request: Request) -> Response:
        return Response(b"eyJ.e30.sig", media_type=ENTITY_STATEMENT)

    # OpenSSL checks validity against the real clock, so these certificates start now.
    files = write_demo_tls(tmp_path_factory.mktemp("tls"), ["32"], now=datetime.now(UTC))
    app = Starlette(routes=[Route("/.well-known/openid-federation", configuration)])
    with serve_https(app, files.cert_files["32"], files.key_files["32"]) as port:
        yield port, files.ca_file


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_https_with_the_demo_ca_is_trusted(https_node: tuple[int, Path], host: str) -> None:
    port, ca_file = https_node

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(verify=client_ssl_context(ca_file)) as http:
            return await http.get(f"https://{host}:{port}/.well-known/openid-federation")

    response = asyncio.run(get())
    assert response.status_code == 200
    assert response.content == b"eyJ.e30.sig"


def test_https_without_the_demo_ca_is_refused(https_node: tuple[int, Path]) -> None:
    port, _ = https_node

    async def get() -> None:
        async with httpx.AsyncClient() as http:  # the public roots (certifi)
            await http.get(f"https://127.0.0.1:{port}/.well-known/openid-federation")

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(get())


def test_a_context_with_the_demo_ca_trusts_nothing_else(tmp_path: Path) -> None:
    files = write_demo_tls(tmp_path, ["anchor"], now=NOW)
    context = client_ssl_context(files.ca_file)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        (
            (("organizationName", "YRD talent registry demo"),),
            (("commonName", "registry demo: certificate authority"),),
        )
    ]


def test_the_peer_client_fetches_over_https_with_the_demo_ca(https_node: tuple[int, Path]) -> None:
    port, ca_file = https_node
    base = f"https://localhost:{port}"
    policy = OutboundPolicy(allow_private=True)  # https: allow_http stays off

    async def fetch() -> bytes | None:
        async with make_http_client(policy, verify=client_ssl_context(ca_file)) as http:
            client = PeerClient({base}, policy=policy, http=http)
            result = await client.fetch(f"{base}/.well-known/openid-federation", accept=[ENTITY_STATEMENT])
            return result.body

    assert asyncio.run(fetch()) == b"eyJ.e30.sig"

    async def fetch_with_public_roots() -> None:
        async with PeerClient({base}, policy=policy) as client:
            await client.fetch(f"{base}/.well-known/openid-federation", accept=[ENTITY_STATEMENT])

    with pytest.raises(PeerTransportError, match="TLS certificate not trusted"):
        asyncio.run(fetch_with_public_roots())
