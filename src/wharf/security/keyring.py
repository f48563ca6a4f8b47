"""Keys that sign and verify access tokens: Wharf's own key ring and external issuers' JWKS.

Wharf's own keys live in a directory, one file per key (``<kid>.json``, mode 0600): the
private JWK plus when it was created and, once it no longer signs, ``not_after`` -- the
moment after which no token it signed can still be valid (retirement + the longest token
lifetime + a grace period). Only the newest key signs; retired keys keep verifying until
``not_after`` and are then pruned, which is what lets the signing key rotate without any
partner noticing. The kid is the key's RFC 7638 thumbprint, so two keys never share one.

Several Wharf processes may share the directory. A process that meets a token with a kid
it does not know re-reads the directory (at most once per ``refresh_interval``), so a key
rotated by another process, or by ``wharf keys rotate``, is picked up without a restart.

External identity providers publish their keys as a JWKS (a URL over HTTPS, or a file).
:class:`IssuerKeys` caches one provider's keys for ``jwks_ttl`` and refetches early when a
token names an unknown kid -- rate-limited, so a stream of forged kids cannot turn Wharf
into a traffic generator against the provider. A failed refresh keeps the keys it had.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import anyio
import httpx
import msgspec
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey

from wharf.errors import PkiError

__all__ = (
    "ALGORITHMS",
    "Algorithm",
    "Clock",
    "ExternalIssuer",
    "IssuerKeys",
    "KeyRing",
    "Maintenance",
    "SigningKey",
    "SigningKeySettings",
)

log = logging.getLogger(__name__)

Algorithm = Literal["ES256", "RS256", "EdDSA"]
ALGORITHMS: frozenset[str] = frozenset({"ES256", "RS256", "EdDSA"})
"""The only JWS algorithms Wharf signs or accepts: asymmetric, so no ``none`` and no HMAC."""

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``); tests pass a clock they can move."""

_KTY: dict[str, str] = {"ES256": "EC", "RS256": "RSA", "EdDSA": "OKP"}
_MAX_JWKS_BYTES = 512 * 1024


class _Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class SigningKeySettings(_Settings, frozen=True):
    """Wharf's own token-signing keys."""

    dir: str = "var/keys/signing"
    """Directory of the key files (created 0700; each key file 0600)."""
    algorithm: Algorithm = "ES256"
    """Algorithm of newly created keys; existing keys keep theirs."""
    rotate_days: float = 30.0
    """:meth:`KeyRing.maintain` makes a new signing key once the current one is this old."""
    grace: float = 300.0
    """Seconds a retired key verifies beyond the longest lifetime of a token it signed."""
    refresh_interval: float = 5.0
    """Least seconds between re-reads of the directory caused by unknown kids."""


class ExternalIssuer(_Settings, frozen=True):
    """An identity provider whose access tokens Wharf also accepts (RFC 9068 + RFC 8705)."""

    issuer: str
    """The ``iss`` its tokens carry, compared exactly."""
    audience: str | None = None
    """The ``aud`` its tokens must name (default: Wharf's own audience)."""
    jwks_url: str | None = None
    """``https://`` URL of its JWKS (exactly one of ``jwks_url`` and ``jwks_file``)."""
    jwks_file: str | None = None
    """A JWKS file, re-read like the URL would be refetched."""
    ca_file: str | None = None
    """CA bundle that ``jwks_url``'s server certificate must chain to (default: system CAs)."""
    partner_claim: Literal["sub", "client_id"] = "sub"
    """Claim holding the OAuth client id that the policy maps to a partner."""
    scope_claim: str = "scope"
    """Claim with the scopes: a space-separated string or a list of strings."""
    require_at_jwt: bool = True
    """Require the RFC 9068 ``typ: at+jwt`` header (some providers only send ``JWT``)."""
    jwks_ttl: float = 3600.0
    """Seconds the fetched keys are used before they are fetched again."""
    refresh_interval: float = 30.0
    """Least seconds between two fetches (an unknown kid asks for an early one)."""

    def __post_init__(self) -> None:
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError(
                f"external issuer {self.issuer}: set exactly one of jwks_url and jwks_file"
            )
        if self.jwks_url is not None and not self.jwks_url.startswith("https://"):
            raise ValueError(f"external issuer {self.issuer}: jwks_url must be an https:// URL")


class SigningKey(msgspec.Struct, frozen=True):
    """A key as the key ring knows it; ``not_after`` is None while it signs."""

    kid: str
    alg: Algorithm
    created: int
    not_after: int | None
    key: Key


class Maintenance(msgspec.Struct, frozen=True):
    """What :meth:`KeyRing.maintain` did."""

    rotated_to: str | None
    pruned: tuple[str, ...]


class _StoredKey(_Settings, frozen=True):
    kid: str
    alg: Algorithm
    created: int
    jwk: dict[str, str]
    not_after: int | None = None


_decode_stored = msgspec.json.Decoder(_StoredKey).decode
_encode = msgspec.json.Encoder().encode


def _generate(alg: Algorithm) -> Key:
    match alg:
        case "ES256":
            return ECKey.generate_key("P-256")
        case "RS256":
            return RSAKey.generate_key(3072)
        case "EdDSA":
            return OKPKey.generate_key("Ed25519")


class KeyRing:
    """Wharf's signing keys: the newest signs, retired ones verify until ``not_after``."""

    def __init__(
        self, settings: SigningKeySettings, *, token_lifetime: float, clock: Clock = time.time
    ) -> None:
        """Open (or create) the key directory and make sure a signing key exists."""
        self._settings = settings
        self._dir = Path(settings.dir)
        self._retire_for = int(token_lifetime + settings.grace)
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._last_read = clock()
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._keys = self._read()
        if not any(key.not_after is None for key in self._keys.values()):
            self._add_signer()
        self._retire_extra_signers()

    @property
    def directory(self) -> Path:
        return self._dir

    def signer(self) -> SigningKey:
        """The key that signs new tokens (the newest one that is not retired)."""
        active = [key for key in self._keys.values() if key.not_after is None]
        return max(active, key=lambda key: (key.created, key.kid))

    def signing_keys(self) -> tuple[SigningKey, ...]:
        """Every key on the ring, newest first (for ``wharf keys list``)."""
        return tuple(sorted(self._keys.values(), key=lambda k: (k.created, k.kid), reverse=True))

    def verification_key(self, kid: str) -> SigningKey | None:
        """The still-valid key with this kid; re-reads the directory (rate-limited) on a miss."""
        key = self._valid(kid)
        if key is None and self._clock() - self._last_read >= self._settings.refresh_interval:
            self.reload()
            key = self._valid(kid)
        return key

    def jwks(self) -> dict[str, list[dict[str, str | list[str]]]]:
        """The public keys that may still verify a token, as a JWK Set."""
        now = self._clock()
        return {
            "keys": [
                key.key.as_dict(private=False)
                for key in self.signing_keys()
                if key.not_after is None or key.not_after > now
            ]
        }

    def rotate(self) -> str:
        """Make a new key the signer; the previous signer verifies until its ``not_after``."""
        previous = self.signer()
        new = self._add_signer()
        self._retire(previous, at=new.created)
        log.info("signing key rotated: %s signs, %s retired", new.kid, previous.kid)
        return new.kid

    def prune(self) -> tuple[str, ...]:
        """Delete the keys whose ``not_after`` has passed; return their kids."""
        now = self._clock()
        gone = [
            key.kid
            for key in self._keys.values()
            if key.not_after is not None and key.not_after <= now
        ]
        for kid in gone:
            with contextlib.suppress(FileNotFoundError):  # another process pruned it first
                self._path(kid).unlink()
            del self._keys[kid]
        if gone:
            log.info("signing keys pruned: %s", ", ".join(gone))
        return tuple(gone)

    def maintain(self) -> Maintenance:
        """Periodic upkeep: pick up other processes' changes, rotate when due, prune.

        Call it every few minutes (well within ``grace``) from a background task.
        """
        self.reload()
        rotated = None
        if self._clock() - self.signer().created >= self._settings.rotate_days * 86400:
            rotated = self.rotate()
        return Maintenance(rotated_to=rotated, pruned=self.prune())

    def reload(self) -> None:
        """Re-read the directory; a broken file is logged and the keys in memory kept."""
        self._last_read = self._clock()
        try:
            keys = self._read()
        except PkiError as exc:
            log.error("signing keys not reloaded, keeping the current ones: %s", exc)
            return
        if any(key.not_after is None for key in keys.values()):
            self._keys = keys
            self._retire_extra_signers()

    # -- internals ---------------------------------------------------------------------------

    def _valid(self, kid: str) -> SigningKey | None:
        key = self._keys.get(kid)
        if key is None or (key.not_after is not None and key.not_after <= self._clock()):
            return None
        return key

    def _path(self, kid: str) -> Path:
        return self._dir / f"{kid}.json"

    def _add_signer(self) -> SigningKey:
        alg = self._settings.algorithm
        raw = _generate(alg)
        kid = raw.thumbprint()
        jwk = {**raw.as_dict(private=True), "kid": kid, "alg": alg, "use": "sig"}
        key = SigningKey(kid, alg, int(self._clock()), None, JWKRegistry.import_key(jwk))
        self._write(key)
        self._keys[kid] = key
        return key

    def _retire(self, key: SigningKey, *, at: int) -> None:
        retired = msgspec.structs.replace(key, not_after=at + self._retire_for)
        self._write(retired)
        self._keys[key.kid] = retired

    def _retire_extra_signers(self) -> None:
        # Two processes may each have created a signer, or a rotation may have been cut short
        # between writing the new key and retiring the old: only the newest keeps signing.
        newest = self.signer()
        for key in list(self._keys.values()):
            if key.not_after is None and key.kid != newest.kid:
                self._retire(key, at=newest.created)

    def _write(self, key: SigningKey) -> None:
        private = key.key.as_dict(private=True)
        stored = _StoredKey(
            kid=key.kid, alg=key.alg, created=key.created, not_after=key.not_after,
            jwk={name: value for name, value in private.items() if isinstance(value, str)},
        )
        path = self._path(key.kid)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_encode(stored))
        os.replace(tmp, path)

    def _read(self) -> dict[str, SigningKey]:
        keys: dict[str, SigningKey] = {}
        for path in sorted(self._dir.glob("*.json")):
            key = _load_key(path)
            keys[key.kid] = key
        return keys


def _load_key(path: Path) -> SigningKey:
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"signing key {path}: cannot read: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PkiError(
            f"signing key {path}: readable by others (mode {stat.filemode(mode)}); chmod 600 it"
        )
    try:
        stored = _decode_stored(data)
    except msgspec.DecodeError as exc:
        raise PkiError(f"signing key {path}: not a Wharf key file: {exc}") from exc
    if path.stem != stored.kid or stored.jwk.get("kid") != stored.kid:
        raise PkiError(f"signing key {path}: kid does not match the file name")
    if stored.jwk.get("kty") != _KTY[stored.alg] or stored.jwk.get("alg") != stored.alg:
        raise PkiError(f"signing key {path}: key type does not fit algorithm {stored.alg}")
    try:
        key = JWKRegistry.import_key(dict(stored.jwk))
    except (JoseError, ValueError) as exc:
        raise PkiError(f"signing key {path}: invalid JWK: {exc}") from exc
    if not key.is_private:
        raise PkiError(f"signing key {path}: holds no private key")
    return SigningKey(stored.kid, stored.alg, stored.created, stored.not_after, key)


class IssuerKeys:
    """One external issuer's verification keys, cached and refreshed on demand."""

    def __init__(
        self,
        issuer: ExternalIssuer,
        *,
        clock: Clock = time.time,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer
        self._clock = clock
        self._client = client
        self._keys: dict[str, Key] = {}
        self._fetched: float | None = None
        self._attempted: float | None = None
        self._lock = anyio.Lock()

    async def key(self, kid: str) -> Key | None:
        """The issuer's key with this kid, fetching the JWKS when stale or when kid is new."""
        now = self._clock()
        stale = self._fetched is None or now - self._fetched >= self.issuer.jwks_ttl
        if stale or kid not in self._keys:
            async with self._lock:
                await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        now = self._clock()
        if self._attempted is not None and now - self._attempted < self.issuer.refresh_interval:
            return  # someone just fetched (or failed to): do not hammer the provider
        self._attempted = now
        try:
            self._keys = _parse_jwks(await self._fetch(), source=self._source)
        except PkiError as exc:
            log.warning("keys of issuer %s not refreshed: %s", self.issuer.issuer, exc)
            return
        self._fetched = now

    @property
    def _source(self) -> str:
        return self.issuer.jwks_url or self.issuer.jwks_file or ""

    async def _fetch(self) -> bytes:
        if self.issuer.jwks_file is not None:
            try:
                return await anyio.Path(self.issuer.jwks_file).read_bytes()
            except OSError as exc:
                raise PkiError(f"JWKS {self._source}: cannot read: {exc.strerror}") from exc
        assert self.issuer.jwks_url is not None
        if self._client is not None:
            return await _get(self._client, self.issuer.jwks_url)
        verify = (
            ssl.create_default_context(cafile=self.issuer.ca_file)
            if self.issuer.ca_file
            else ssl.create_default_context()
        )
        async with httpx.AsyncClient(verify=verify, timeout=5.0) as client:
            return await _get(client, self.issuer.jwks_url)


async def _get(client: httpx.AsyncClient, url: str) -> bytes:
    try:
        async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise PkiError(f"JWKS {url}: HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_JWKS_BYTES:
                    raise PkiError(f"JWKS {url}: larger than {_MAX_JWKS_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise PkiError(f"JWKS {url}: {type(exc).__name__}: {exc}") from exc


class _Jwks(msgspec.Struct, frozen=True):
    keys: list[dict[str, str | list[str]]]


def _parse_jwks(data: bytes, *, source: str) -> dict[str, Key]:
    """Public signing keys by kid; symmetric, private, kid-less or unknown keys are skipped."""
    try:
        jwks = msgspec.json.decode(data, type=_Jwks)
    except msgspec.DecodeError as exc:
        raise PkiError(f"JWKS {source}: not a JWK Set: {exc}") from exc
    keys: dict[str, Key] = {}
    for index, jwk in enumerate(jwks.keys):
        kid, kty, alg = jwk.get("kid"), jwk.get("kty"), jwk.get("alg")
        usable = (
            isinstance(kid, str)
            and kty in {"EC", "RSA", "OKP"}
            and jwk.get("use", "sig") == "sig"
            and (alg is None or alg in ALGORITHMS)
            and "d" not in jwk
        )
        if not usable:
            log.info("JWKS %s: key %d skipped: not a public signing key", source, index)
            continue
        try:
            keys[str(kid)] = JWKRegistry.import_key(dict(jwk))
        except (JoseError, ValueError) as exc:
            log.warning("JWKS %s: key %s skipped: %s", source, kid, exc)
    return keys
