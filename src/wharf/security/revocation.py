"""Revoked client certificates: the CA's CRL and/or a list of serials, hot-reloaded.

The TLS layer checks that a client certificate chains to Wharf's CA and is within its
validity, but Python's ``ssl`` module cannot be handed a CRL that changes while the server
runs. So revocation is checked per request by the authenticator, against
:meth:`RevocationStore.current`:

- ``crl``: a PEM or DER CRL issued by one of the trusted CAs. Its signature is verified
  against that CA (a CRL that does not verify is refused, never half-trusted).
- ``revoked_serials``: a text file, one serial per line in hex (``4f:a2:...``, ``0x4fa2`` or
  ``4fa2``), ``#`` starts a comment. For when the security team must block a certificate at
  once and the CA's CRL is not at hand.

Both may be set; a certificate listed in either is revoked. The files are watched like the
policy directory (:class:`~wharf.policies.store.ReloadingStore`): a change that does not load
(bad signature, unreadable file, a line that is not a serial, a file that vanished) is
rejected as a whole and the last good list stays in force: a mistake never un-revokes.

Serial numbers are compared without the issuer: Wharf trusts one partner CA (or a few during
a rollover) and CA serials are random 64+-bit numbers, so a collision is not a practical
concern; say so in the CA runbook if that ever changes.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
from cryptography import x509

from wharf.errors import PkiError
from wharf.policies.store import ChangeHook, RejectHook, ReloadingStore

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "RevocationList",
    "RevocationSettings",
    "RevocationStore",
    "load_revocations",
    "read_crl",
    "read_serials",
)

_SERIAL = re.compile(r"^(?:0x)?([0-9a-f]{1,2}(?::[0-9a-f]{1,2})+|[0-9a-f]+)\Z", re.IGNORECASE)


class RevocationSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where revoked certificates are listed (``Settings.revocation``); both optional."""

    crl: str | None = None
    """PEM or DER CRL signed by a trusted partner CA (``pki.ca_cert``)."""
    revoked_serials: str | None = None
    """Text file of revoked serial numbers in hex, one per line."""
    poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    """Seconds between checks of the files for changes."""


class RevocationList(msgspec.Struct, frozen=True, kw_only=True):
    """The serial numbers revoked now, and where the CRL part came from."""

    serials: frozenset[int] = frozenset()
    crl_issuer: str | None = None
    """RFC 4514 issuer of the CRL in force (``None`` without a CRL)."""
    crl_last_update: dt.datetime | None = None
    crl_next_update: dt.datetime | None = None
    """When the CA promised a newer CRL; past it the list is stale (still enforced)."""

    def is_revoked(self, serial: int) -> bool:
        """True when a certificate with this serial number must be refused."""
        return serial in self.serials

    def is_stale(self, now: dt.datetime | None = None) -> bool:
        """True when the CRL's ``nextUpdate`` has passed: fetch a new one from the CA."""
        now = now or dt.datetime.now(dt.UTC)
        return self.crl_next_update is not None and now > self.crl_next_update


def read_crl(path: Path, trust_anchors: Sequence[x509.Certificate]) -> x509.CertificateRevocationList:
    """Read a PEM or DER CRL and verify its signature against the CA that issued it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot read the CRL: {exc.strerror}") from exc
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise PkiError(f"{path}: not a PEM or DER CRL: {exc}") from exc
    issuers = [ca for ca in trust_anchors if ca.subject == crl.issuer]
    if not issuers:
        raise PkiError(
            f"{path}: CRL issuer {crl.issuer.rfc4514_string()} is not a trusted partner CA"
        )
    for ca in issuers:
        try:
            if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return crl
        except TypeError:  # a CA key type that cannot sign CRLs
            continue
    raise PkiError(
        f"{path}: the CRL's signature does not verify with {crl.issuer.rfc4514_string()}'s key"
    )


def read_serials(path: Path) -> frozenset[int]:
    """Parse a revoked-serials file; an unreadable line is an error naming ``file:line``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PkiError(f"{path}: cannot read the revoked serials: {exc}") from exc
    serials: set[int] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _SERIAL.match(line)
        if match is None:
            raise PkiError(
                f"{path}:{number}: {line!r} is not a serial number in hex (e.g. 4f:a2:19 or 0x4fa219)"
            )
        serials.add(int(match[1].replace(":", ""), 16))
    return frozenset(serials)


def load_revocations(
    *,
    crl: str | Path | None = None,
    serials: str | Path | None = None,
    trust_anchors: Sequence[x509.Certificate] = (),
) -> RevocationList:
    """Read the configured sources into one :class:`RevocationList`; raises :class:`PkiError`."""
    revoked: set[int] = set()
    issuer = last = following = None
    if crl is not None:
        loaded = read_crl(Path(crl), trust_anchors)
        revoked.update(entry.serial_number for entry in loaded)
        issuer = loaded.issuer.rfc4514_string()
        last, following = loaded.last_update_utc, loaded.next_update_utc
    if serials is not None:
        revoked.update(read_serials(Path(serials)))
    return RevocationList(
        serials=frozenset(revoked), crl_issuer=issuer, crl_last_update=last,
        crl_next_update=following,
    )


def _describe(old: RevocationList, new: RevocationList) -> list[str]:
    lines = [f"serial {s:x} revoked" for s in sorted(new.serials - old.serials)]
    lines += [f"serial {s:x} no longer revoked" for s in sorted(old.serials - new.serials)]
    if new.crl_last_update != old.crl_last_update and new.crl_last_update is not None:
        lines.append(f"CRL of {new.crl_issuer} updated {new.crl_last_update.isoformat()}")
    return lines


class RevocationStore(ReloadingStore[RevocationList]):
    """The revocation list in force, hot-reloaded; same shape as the policy store.

    ``current().is_revoked(cert.serial)`` is the per-request check. Built from no files it
    holds an empty list (nothing to watch; :meth:`run` then only idles).
    """

    def __init__(
        self,
        *,
        crl: str | Path | None = None,
        serials: str | Path | None = None,
        trust_anchors: Sequence[x509.Certificate] = (),
        poll_interval: float = 1.0,
        on_change: ChangeHook[RevocationList] | None = None,
        on_reject: RejectHook | None = None,
    ) -> None:
        if crl is not None and not trust_anchors:
            raise PkiError("a CRL needs the trusted CA certificates to verify its signature")
        self.files = tuple(Path(p) for p in (crl, serials) if p is not None)
        anchors = tuple(trust_anchors)
        super().__init__(
            name="revocations",
            load=lambda: load_revocations(crl=crl, serials=serials, trust_anchors=anchors),
            files=lambda: self.files,
            describe=_describe,
            poll_interval=poll_interval,
        )
        self.subscribe(on_change=on_change, on_reject=on_reject)

    @classmethod
    def from_settings(
        cls, settings: RevocationSettings, trust_anchors: Sequence[x509.Certificate]
    ) -> RevocationStore:
        return cls(
            crl=settings.crl, serials=settings.revoked_serials, trust_anchors=trust_anchors,
            poll_interval=settings.poll_interval,
        )
