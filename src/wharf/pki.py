"""Dev PKI: a local CA, the gateway's server certificate and partner client certificates.

Built with ``cryptography`` (EC P-256 keys). Meant for development, demos and tests; in
production the security team points ``[pki]`` at the organisation's CA and certificates.
A partner's client certificate carries the partner id as its common name and as the SAN
URI ``urn:wharf:partner:<id>``; the policy file maps its fingerprint or subject to the partner.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wharf.errors import PkiError

__all__ = (
    "CertificateInfo",
    "IssuedCertificate",
    "ServerPki",
    "describe",
    "ensure_server_pki",
    "fingerprint",
    "init_ca",
    "issue_client",
    "load_certificates",
)

PARTNER_URI_PREFIX = "urn:wharf:partner:"
_ORG = "Wharf dev PKI"


class IssuedCertificate(msgspec.Struct, frozen=True):
    """Where a new certificate and its key were written, and its SHA-256 fingerprint."""

    cert: Path
    key: Path
    fingerprint: str


class ServerPki(msgspec.Struct, frozen=True):
    """The files the partner listener needs, and which of them were just created."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    created: tuple[str, ...] = ()


class CertificateInfo(msgspec.Struct, frozen=True):
    """What Wharf needs to know about a presented certificate."""

    fingerprint: str
    subject: str
    common_name: str | None
    partner_uri: str | None
    not_before: dt.datetime
    not_after: dt.datetime
    serial: int


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as ``sha256:<lowercase hex>``."""
    return "sha256:" + cert.fingerprint(hashes.SHA256()).hex()


def describe(cert: x509.Certificate) -> CertificateInfo:
    """Extract fingerprint, subject (RFC 4514), CN, partner URI and validity."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = cns[0].value if cns else None
    uri: str | None = None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for value in san.get_values_for_type(x509.UniformResourceIdentifier):
            if value.startswith(PARTNER_URI_PREFIX):
                uri = value
                break
    return CertificateInfo(
        fingerprint=fingerprint(cert),
        subject=cert.subject.rfc4514_string(),
        common_name=cn if isinstance(cn, str) else None,
        partner_uri=uri,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (a CA file may hold several, e.g. during a CA rollover)."""
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read certificates from {path}: {exc}") from exc
    return certs


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key(
            (directory / "ca-key.pem").read_bytes(), password=None
        )
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read the dev CA in {directory}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{directory / 'ca-key.pem'} is not an EC key")
    return cert, key


def init_ca(directory: Path, *, days: int = 3650) -> tuple[Path, bool]:
    """Create ``ca.pem`` / ``ca-key.pem`` in ``directory`` unless present; return (path, created)."""
    ca_path = directory / "ca.pem"
    if ca_path.exists():
        _load_ca(directory)
        return ca_path, False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, "Wharf dev CA"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(directory / "ca-key.pem", _key_pem(key), private=True)
    _write(ca_path, cert.public_bytes(serialization.Encoding.PEM))
    return ca_path, True


def _issue(
    directory: Path,
    *,
    common_name: str,
    san: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    days: int,
    not_before: dt.datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def ensure_server_pki(directory: Path, names: list[str]) -> ServerPki:
    """Create the CA and the server certificate for ``names`` when missing."""
    created: list[str] = []
    ca_path, ca_created = init_ca(directory)
    if ca_created:
        created.append(str(ca_path))
    cert_path, key_path = directory / "server.pem", directory / "server-key.pem"
    if ca_created or not cert_path.exists() or not key_path.exists():
        san: list[x509.GeneralName] = []
        for name in names:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                san.append(x509.DNSName(name))
        cert, key = _issue(
            directory, common_name=names[0], san=san,
            usage=ExtendedKeyUsageOID.SERVER_AUTH, days=825,
        )
        _write(key_path, _key_pem(key), private=True)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        created.append(str(cert_path))
    return ServerPki(
        ca_cert=ca_path, server_cert=cert_path, server_key=key_path, created=tuple(created)
    )


def issue_client(
    directory: Path,
    partner: str,
    *,
    days: int = 365,
    not_before: dt.datetime | None = None,
    out_dir: Path | None = None,
) -> IssuedCertificate:
    """Issue a client certificate for ``partner`` signed by the dev CA in ``directory``."""
    cert, key = _issue(
        directory,
        common_name=partner,
        san=[x509.UniformResourceIdentifier(PARTNER_URI_PREFIX + partner)],
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        days=days,
        not_before=not_before,
    )
    target = out_dir or directory / "partners"
    cert_path, key_path = target / f"{partner}.pem", target / f"{partner}-key.pem"
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return IssuedCertificate(cert=cert_path, key=key_path, fingerprint=fingerprint(cert))
