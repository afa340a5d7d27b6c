"""A certificate authority for ``registry demo``, and the server certificates it signs.

The demo serves the trust anchor and the four provincial nodes over https on loopback,
because entity identifiers (OpenID Federation 1.0 §1.2) and ``did:web`` are https URLs by
their specs. This module makes what that needs with the ``cryptography`` package, as pure
functions (the clock is a parameter), plus one function that writes PEM files.

Choices, and why:

- **ECDSA P-256 with SHA-256** for every key: what OpenSSL (uvicorn's ``ssl``, curl,
  httpx), browsers and the CA/Browser Forum profile all accept for TLS server
  certificates. Ed25519 certificates are refused by browsers and many TLS stacks.
- **Name constraints** on the CA (critical; RFC 5280 §4.2.1.10): it may only certify
  ``localhost`` (and its subdomains), 127.0.0.0/8 and ::1. Someone who adds the demo CA to
  their system's trust store has not let whoever copies the folder impersonate any real
  site. :func:`make_server_certificate` refuses other names up front, so a mistake fails
  here and not in a TLS handshake.
- **Short lives**: the CA 30 days, server certificates 7 days (never past the CA), both
  back-dated 5 minutes for clock skew. The demo makes a fresh set each run.
- The CA's private key is **not written**: once the servers' certificates exist nothing
  else should be signed, and a key that is not on disk cannot leak. Server keys are written
  with mode 0600 from the moment the file exists (created with that mode, then renamed
  into place), in a folder made with mode 0700.
- Subject common names are labels such as ``registry demo: anchor``, never host names:
  clients match SANs, and OpenSSL would check a host-like CN against the name constraints.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_VALIDITY",
    "LOOPBACK_HOSTS",
    "SERVER_VALIDITY",
    "CertificateAuthority",
    "DemoTlsFiles",
    "ServerCertificate",
    "client_ssl_context",
    "make_certificate_authority",
    "make_server_certificate",
    "write_demo_tls",
]

CA_VALIDITY: Final = timedelta(days=30)
SERVER_VALIDITY: Final = timedelta(days=7)
_BACKDATE: Final = timedelta(minutes=5)
#: What a demo server answers to: the names and addresses of this machine's loopback.
LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "::1")
_ORGANIZATION: Final = "YRD talent registry demo"
# What the CA may certify (name constraints); server hosts are checked against the same.
_PERMITTED: Final = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.IPv4Network("127.0.0.0/8")),
    x509.IPAddress(ipaddress.IPv6Network("::1/128")),
)
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_FILE_STEM = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class DemoTlsFiles:
    """Where :func:`write_demo_tls` put things: the CA certificate (give it to curl with
    ``--cacert`` or to :func:`client_ssl_context`) and each server's certificate and key
    (uvicorn's ``ssl_certfile`` and ``ssl_keyfile``)."""

    ca_file: Path
    cert_files: Mapping[str, Path]
    key_files: Mapping[str, Path]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_certificate_authority(
    *, now: datetime, validity: timedelta = CA_VALIDITY, label: str = "certificate authority"
) -> CertificateAuthority:
    """A self-signed CA certificate (``now`` must be timezone-aware) that can sign only
    end-entity certificates (path length 0) for loopback names."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    key = _new_key()
    subject = _name(f"registry demo: {label}")
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(permitted_subtrees=list(_PERMITTED), excluded_subtrees=None), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate, key)


def _general_name(host: str) -> x509.GeneralName:
    """``host`` as a subjectAltName entry, if the demo CA may certify it."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if not address.is_loopback:
            raise ValueError(f"{host} is not a loopback address; the demo CA certifies loopback only")
        return x509.IPAddress(address)
    labels = host.split(".")
    if not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a lower-case DNS name")
    if labels[-1] != "localhost":
        raise ValueError(f"{host} is not localhost or below it; the demo CA certifies loopback only")
    return x509.DNSName(host)


def make_server_certificate(
    ca: CertificateAuthority,
    *,
    now: datetime,
    hosts: Sequence[str] = LOOPBACK_HOSTS,
    label: str = "server",
    validity: timedelta = SERVER_VALIDITY,
) -> ServerCertificate:
    """A TLS server certificate signed by ``ca`` for ``hosts`` (IP addresses become IP
    subjectAltNames, names DNS ones), valid from ``now`` for ``validity`` or until the CA
    expires, whichever is sooner."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not hosts:
        raise ValueError("a server certificate needs at least one host")
    names = [_general_name(host) for host in hosts]
    key = _new_key()
    not_after = min(now + validity, ca.certificate.not_valid_after_utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(f"registry demo: {label}"))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,  # ECDHE-ECDSA: the key only signs the handshake
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()), critical=False
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    return ServerCertificate(certificate, key)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Writes ``data`` to ``path`` through a temporary file created with ``mode``, so the
    file never exists with wider permissions, and readers never see half of it."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)  # exactly ``mode``, whatever the umask
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_demo_tls(
    folder: Path,
    names: Iterable[str],
    *,
    now: datetime,
    hosts: Sequence[str] = LOOPBACK_HOSTS,
) -> DemoTlsFiles:
    """Makes a CA and one server certificate per name (``anchor``, ``31``, …) and writes
    ``ca.pem``, ``<name>.pem`` and ``<name>-key.pem`` (mode 0600) into ``folder`` (made
    with mode 0700 if missing). Existing files of the same names are replaced."""
    server_names = list(names)
    for name in server_names:
        if not _FILE_STEM.fullmatch(name) or name == "ca":
            raise ValueError(f"{name!r} is not a usable server name (lower-case letters, digits, '-')")
    if len(set(server_names)) != len(server_names):
        raise ValueError("server names must be distinct")
    ca = make_certificate_authority(now=now)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_file = folder / "ca.pem"
    _write_file(ca_file, ca.certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    cert_files: dict[str, Path] = {}
    key_files: dict[str, Path] = {}
    for name in server_names:
        server = make_server_certificate(ca, now=now, hosts=hosts, label=name)
        key_pem = server.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),  # uvicorn reads it unattended; the file is 0600
        )
        key_files[name] = folder / f"{name}-key.pem"
        _write_file(key_files[name], key_pem, 0o600)
        cert_files[name] = folder / f"{name}.pem"
        _write_file(cert_files[name], server.certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return DemoTlsFiles(ca_file, cert_files, key_files)


def client_ssl_context(ca_file: Path) -> ssl.SSLContext:
    """A TLS client context that trusts the demo CA and nothing else (with hostname
    checks), for httpx's ``verify=`` or :func:`registry.federation.client.make_http_client`."""
    return ssl.create_default_context(cafile=str(ca_file))
