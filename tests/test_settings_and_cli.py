"""Settings and policy files name the bad key; the CLI's PKI and policy commands do what they say."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from cryptography import x509

from wharf.errors import ConfigError, PolicyError
from wharf.pki import describe
from wharf.policies import load_policies
from wharf.settings import load_settings

if TYPE_CHECKING:
    from pathlib import Path


def test_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.nats.url is None
    assert settings.nats.embedded.store_dir == "var/nats"
    assert settings.storage.database == "var/wharf.db"
    assert (settings.gateway.partner.port, settings.gateway.internal.port) == (8443, 8080)


def test_file_and_environment_overlay(tmp_path: Path) -> None:
    config = tmp_path / "wharf.toml"
    config.write_text('[nats]\nurl = "nats://10.0.0.5:4222"\n[gateway.partner]\nport = 9443\n')
    settings = load_settings(
        config, {"WHARF_GATEWAY__PARTNER__PORT": "9444", "WHARF_ACTORS__BACKOFF": "[1, 2]"}
    )
    assert settings.nats.url == "nats://10.0.0.5:4222"
    assert settings.gateway.partner.port == 9444
    assert settings.actors.backoff == [1.0, 2.0]


@pytest.mark.parametrize(
    ("text", "environ", "key"),
    [
        ("[nats]\nurll = 'x'\n", {}, "nats.urll"),
        ("", {"WHARF_GATEWAY__PARTNER__PROT": "1"}, "gateway.partner.prot"),
        ("[actors]\nmax_deliveries = 'many'\n", {}, "actors.max_deliveries"),
    ],
    ids=["typo-in-file", "typo-in-environment", "wrong-type"],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, text: str, environ: dict[str, str], key: str
) -> None:
    config = tmp_path / "wharf.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ)
    assert caught.value.key == key
    assert key in str(caught.value)


GOOD = '''
name = "Acme"
[[certificates]]
subject = "CN=acme,O=Wharf dev PKI"
[routes]
ship_notice = ["wms.receipts.expected"]
'''


@pytest.mark.parametrize(
    ("name", "text", "path", "message"),
    [
        ("acme", "colour = 'red'\n" + GOOD, "colour", "unknown field"),
        ("acme", GOOD.replace("ship_notice", "shipnotice"), "routes", "'shipnotice'"),
        ("acme", GOOD.replace("wms.receipts.expected", "wms.>"), "routes.ship_notice[0]", "wms.>"),
        ("acme", 'id = "globex"\n' + GOOD, "id", "differs from the file name"),
        ("acme", GOOD.replace("CN=acme,O=Wharf dev PKI", "not a name"), "certificates[0]", "4514"),
    ],
    ids=["unknown-key", "unknown-doc-type", "wildcard-subject", "id-mismatch", "bad-subject"],
)
def test_bad_policy_names_file_and_key(
    tmp_path: Path, name: str, text: str, path: str, message: str
) -> None:
    (tmp_path / f"{name}.toml").write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path)
    # file:line: key.path: message (the line when the key can be found in the file)
    assert re.search(rf"{name}\.toml(:\d+)?: {re.escape(path)}", str(caught.value)), caught.value
    assert message in str(caught.value)


def test_one_certificate_cannot_belong_to_two_partners(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(GOOD)
    (tmp_path / "globex.toml").write_text(GOOD.replace('"Acme"', '"Globex"'))
    with pytest.raises(PolicyError, match="already granted to partner 'acme'"):
        load_policies(tmp_path)


def wharf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wharf", *args], cwd=cwd, capture_output=True, text=True,
        timeout=60, check=False,
    )


def test_cli_certs_init_and_issue(tmp_path: Path) -> None:
    init = wharf("certs", "init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    pki = tmp_path / "var" / "pki"
    assert "(created)" in init.stdout
    assert {"ca.pem", "server.pem", "server-key.pem"} <= {p.name for p in pki.iterdir()}
    assert "(exists)" in wharf("certs", "init", cwd=tmp_path).stdout  # idempotent

    issue = wharf("certs", "issue", "acme", cwd=tmp_path)
    assert issue.returncode == 0, issue.stderr
    lines = dict(line.split(":", 1) for line in issue.stdout.splitlines() if ":  " in line)
    cert = x509.load_pem_x509_certificate((tmp_path / lines["certificate"].strip()).read_bytes())
    info = describe(cert)
    assert lines["fingerprint"].strip() == info.fingerprint
    assert info.subject == "CN=acme,O=Wharf dev PKI"
    assert (tmp_path / lines["key"].strip()).stat().st_mode & 0o077 == 0, "the key is private"


def test_cli_policy_check_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "acme.toml").write_text(GOOD)
    ok = wharf("policy", "check", str(good), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "1 partners, no errors" in ok.stdout

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "acme.toml").write_text(GOOD + "surprise = 1\n")
    failed = wharf("policy", "check", str(bad), cwd=tmp_path)
    assert failed.returncode == 1
    assert "acme.toml" in failed.stderr
    assert "surprise" in failed.stderr
