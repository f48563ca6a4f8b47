"""Revocation: a CRL verified against the CA, a serials file, hot reload that never un-revokes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wharf.errors import PkiError, WharfError
from wharf.pki import load_certificates
from wharf.security.revocation import (
    RevocationList,
    RevocationSettings,
    RevocationStore,
    load_revocations,
    read_serials,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import Pki

NOW = dt.datetime.now(dt.UTC)


def ca(pki: Pki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((pki.dir / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((pki.dir / "ca-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def serial_of(pki: Pki, partner: str) -> int:
    return x509.load_pem_x509_certificate(pki.clients[partner].cert.read_bytes()).serial_number


def make_crl(
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    serials: list[int],
    *,
    next_update: dt.datetime | None = None,
    encoding: serialization.Encoding = serialization.Encoding.PEM,
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(NOW - dt.timedelta(minutes=1))
        .next_update(next_update or NOW + dt.timedelta(days=7))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(NOW - dt.timedelta(minutes=1)).build()
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(encoding)


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_a_crl_signed_by_the_ca_revokes_its_serials(
    pki: Pki, tmp_path: Path, encoding: serialization.Encoding
) -> None:
    cert, key = ca(pki)
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(cert.subject, key, [serial_of(pki, "acme")], encoding=encoding))
    revoked = load_revocations(crl=path, trust_anchors=load_certificates(pki.files.ca_cert))
    assert revoked.is_revoked(serial_of(pki, "acme"))
    assert not revoked.is_revoked(serial_of(pki, "globex"))
    assert revoked.crl_issuer == cert.subject.rfc4514_string()
    assert not revoked.is_stale()


def test_a_crl_that_does_not_verify_is_refused(pki: Pki, tmp_path: Path) -> None:
    cert, _ = ca(pki)
    anchors = [cert]
    forged = tmp_path / "forged.crl"
    # Claims the dev CA as issuer but is signed with another key.
    forged.write_bytes(make_crl(cert.subject, ec.generate_private_key(ec.SECP256R1()), [1]))
    with pytest.raises(PkiError, match="signature does not verify"):
        load_revocations(crl=forged, trust_anchors=anchors)

    stranger_key = ec.generate_private_key(ec.SECP256R1())
    foreign = tmp_path / "foreign.crl"
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Other CA")])
    foreign.write_bytes(make_crl(name, stranger_key, [1]))
    with pytest.raises(PkiError, match="CN=Other CA is not a trusted partner CA"):
        load_revocations(crl=foreign, trust_anchors=anchors)

    garbage = tmp_path / "garbage.crl"
    garbage.write_bytes(b"not a crl")
    with pytest.raises(PkiError, match="not a PEM or DER CRL"):
        load_revocations(crl=garbage, trust_anchors=anchors)


def test_a_crl_past_its_next_update_is_stale_but_enforced(pki: Pki, tmp_path: Path) -> None:
    cert, key = ca(pki)
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(cert.subject, key, [7], next_update=NOW + dt.timedelta(hours=1)))
    revoked = load_revocations(crl=path, trust_anchors=[cert])
    assert revoked.is_stale(NOW + dt.timedelta(hours=2)) and revoked.is_revoked(7)


def test_the_serials_file_takes_hex_in_common_spellings(tmp_path: Path) -> None:
    path = tmp_path / "revoked.txt"
    path.write_text("# revoked by the security team\n4f:a2:19\n0x1F  # lost laptop\n\nABCDEF\n")
    assert read_serials(path) == {0x4FA219, 0x1F, 0xABCDEF}
    path.write_text("4f:a2:19\nnot-a-serial\n")
    with pytest.raises(PkiError, match=r"revoked\.txt:2: 'not-a-serial' is not a serial number"):
        read_serials(path)


def test_both_sources_add_up(pki: Pki, tmp_path: Path) -> None:
    cert, key = ca(pki)
    (tmp_path / "ca.crl").write_bytes(make_crl(cert.subject, key, [0x10]))
    (tmp_path / "revoked.txt").write_text("20\n")
    revoked = load_revocations(
        crl=tmp_path / "ca.crl", serials=tmp_path / "revoked.txt", trust_anchors=[cert]
    )
    assert revoked.serials == {0x10, 0x20}


async def test_the_store_hot_reloads_and_never_un_revokes_by_mistake(
    pki: Pki, tmp_path: Path
) -> None:
    cert, key = ca(pki)
    crl, serials = tmp_path / "ca.crl", tmp_path / "revoked.txt"
    crl.write_bytes(make_crl(cert.subject, key, []))
    serials.write_text("")
    changed, rejected = anyio.Event(), anyio.Event()
    errors: list[WharfError] = []

    def on_change(old: RevocationList, new: RevocationList, lines: list[str]) -> None:
        changed.set()

    def on_reject(error: WharfError) -> None:
        errors.append(error)
        rejected.set()

    settings = RevocationSettings(crl=str(crl), revoked_serials=str(serials), poll_interval=0.02)
    store = RevocationStore.from_settings(settings, [cert])
    store.subscribe(on_change=on_change, on_reject=on_reject)
    acme = serial_of(pki, "acme")
    assert not store.current().is_revoked(acme)

    async with anyio.create_task_group() as tg:
        await tg.start(store.run)
        crl.write_bytes(make_crl(cert.subject, key, [acme]))
        with anyio.fail_after(5):
            await changed.wait()
        assert store.current().is_revoked(acme)

        # A forged CRL that would lift the revocation is refused as a whole.
        crl.write_bytes(make_crl(cert.subject, ec.generate_private_key(ec.SECP256R1()), []))
        with anyio.fail_after(5):
            await rejected.wait()
        rejected = anyio.Event()
        assert store.current().is_revoked(acme)
        assert "signature does not verify" in (store.status().last_error or "")

        # So is a CRL that vanished.
        crl.unlink()
        with anyio.fail_after(5):
            await rejected.wait()
        tg.cancel_scope.cancel()
    assert store.current().is_revoked(acme)
    assert store.status().rejected_count == 2 and store.status().generation == 2
    assert "cannot read the CRL" in str(errors[-1])


def test_a_store_without_sources_revokes_nothing_and_a_crl_needs_anchors(tmp_path: Path) -> None:
    assert RevocationStore().current().serials == frozenset()
    with pytest.raises(PkiError, match="needs the trusted CA"):
        RevocationStore(crl=tmp_path / "ca.crl")
