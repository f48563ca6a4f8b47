"""Policy files v2: schema, templates, file:line errors, diff, certificate windows, expiry."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509

from wharf.errors import AuthError, PolicyError
from wharf.pki import CertificateInfo, describe, issue_client
from wharf.policies import PolicyFileError, diff_policies, load_policies
from wharf.policies.expiry import expiring_certificates
from wharf.policies.locate import key_lines, render_path

if TYPE_CHECKING:
    from tests.conftest import Pki

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)

ACME = """\
name = "Acme"
scopes = ["ship-notices:write", "invoices:write", "traces:read"]

[[certificates]]
subject = "CN=acme,O=Wharf dev PKI"

[routes]
ship_notice = ["wms.receipts.expected"]
invoice = ["ap.invoice.received"]
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def refusal(directory: Path) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as caught:
        load_policies(directory)
    return caught.value


def where(error: PolicyError, directory: Path) -> str:
    """The error's ``file:line: path`` part, with the directory stripped."""
    assert isinstance(error, PolicyFileError)
    return f"{Path(error.file).relative_to(directory)}:{error.line}: {error.path}"


# -- the shipped samples -------------------------------------------------------------------------


def test_shipped_samples_show_the_v2_features() -> None:
    policies = load_policies(REPO / "policies")
    acme, globex = policies.partners["acme"], policies.partners["globex"]

    assert acme.client_id == "acme"
    assert "invoices:write" in acme.scopes and acme.formats == ["json"]
    assert acme.rate_limit is not None and acme.rate_limit.requests_per_window == 120
    assert acme.tolerances.quantity_percent == Decimal(2)
    assert acme.tolerances.price_percent == Decimal("0.5")  # from _defaults.toml

    assert globex.template == "edi"
    assert globex.formats == ["x12"]
    assert globex.versions == {"x12": ["004010"]}  # the partner's list replaces the template's
    assert globex.accepts("x12", "004010") and not globex.accepts("x12", "005010")
    assert globex.accepts("x12", "004010VICS") and not globex.accepts("x12", "005010UCS")
    assert not globex.accepts("json")
    assert globex.x12_overrides == {"item.supplier_part": "PO107"}
    assert globex.rate_limit is not None and globex.rate_limit.burst == 10  # from the template
    assert globex.routes["price_catalog"] == []  # the template removes an inherited route
    assert globex.routes["ship_notice"] == [
        "wms.receipts.expected", "erp.purchasing.asn", "tms.inbound.milestone", "crm.order.at_risk"
    ]


def test_today_format_stays_valid_and_v2_defaults_are_least_privilege(tmp_path: Path) -> None:
    write(tmp_path, {"acme.toml": ACME.replace('scopes = [', '# scopes = [')})
    acme = load_policies(tmp_path).partners["acme"]
    assert acme.scopes == []  # nothing granted unless the file says so
    assert acme.client_id == "acme" and acme.oauth_client_id == "acme"
    assert acme.rate_limit is None and acme.suspended is False
    assert acme.tolerances.price_percent == 0


def test_routes_take_nats_subjects_and_https_targets(tmp_path: Path) -> None:
    write(tmp_path, {"acme.toml": ACME.replace(
        '["ap.invoice.received"]', '["ap.invoice.received", "https://ap.example.com/invoices"]'
    )})
    acme = load_policies(tmp_path).partners["acme"]
    assert acme.subjects("invoice") == ["ap.invoice.received"]
    assert acme.http_targets("invoice") == ["https://ap.example.com/invoices"]


# -- defaults and templates ----------------------------------------------------------------------


def test_template_sits_between_defaults_and_the_partner(tmp_path: Path) -> None:
    write(tmp_path, {
        "_defaults.toml": 'formats = ["json"]\n[tolerances]\nprice_percent = 1\ndate_days = 3\n',
        "_template.edi.toml": 'formats = ["x12"]\n[tolerances]\nprice_percent = 2\n',
        "acme.toml": 'template = "edi"\n' + ACME + "[tolerances]\ndate_days = 5\n",
        "globex.toml": ACME.replace("acme", "globex"),
    })
    policies = load_policies(tmp_path)
    acme, globex = policies.partners["acme"], policies.partners["globex"]
    assert acme.formats == ["x12"]
    assert (acme.tolerances.price_percent, acme.tolerances.date_days) == (Decimal(2), Decimal(5))
    assert globex.formats == ["json"]
    assert (globex.tolerances.price_percent, globex.tolerances.date_days) == (
        Decimal(1), Decimal(3)
    )


def test_unknown_template_is_an_error_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"_template.edi.toml": "", "acme.toml": 'template = "edifact"\n' + ACME})
    error = refusal(tmp_path)
    assert where(error, tmp_path) == "acme.toml:1: template"
    assert "unknown template 'edifact'" in error.detail and "templates: edi" in error.detail


@pytest.mark.parametrize("key", ["certificates", "name", "oauth_client_id"])
def test_partner_only_keys_are_refused_in_defaults(tmp_path: Path, key: str) -> None:
    body = {
        "certificates": '\n[[certificates]]\nsubject = "CN=x"\n',
        "name": '\nname = "Everyone"\n',
        "oauth_client_id": '\noauth_client_id = "shared"\n',
    }[key]
    write(tmp_path, {"_defaults.toml": "formats = ['json']\n" + body, "acme.toml": ACME})
    error = refusal(tmp_path)
    assert where(error, tmp_path) == f"_defaults.toml:3: {key}"
    assert "belongs in a partner's own file" in error.detail


def test_an_inherited_mistake_points_into_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, {
        "_defaults.toml": '[routes]\nacknowledgment = [\n  "erp.ack",\n  "erp.*",\n]\n',
        "acme.toml": ACME,
    })
    error = refusal(tmp_path)
    assert where(error, tmp_path) == "_defaults.toml:4: routes.acknowledgment[1]"
    assert "'erp.*' is not a concrete NATS subject" in error.detail
    assert error.detail.endswith("(inherited by acme.toml)")


# -- file:line: key.path for every kind of mistake ------------------------------------------------

FP = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected", "message"),
    [
        (ACME + "colour = 'red'\n", "acme.toml:10: routes.colour",
         "'colour' is not a known document type"),
        ("colour = 'red'\n" + ACME, "acme.toml:1: colour", "unknown field `colour`"),
        (ACME.replace("ship_notice =", "shipnotice ="), "acme.toml:8: routes.shipnotice",
         "'shipnotice' is not a known document type; did you mean 'ship_notice'?"),
        (ACME.replace('"invoices:write"', '"invoice:write"'), "acme.toml:2: scopes[1]",
         "'invoice:write' is not a known scope; did you mean 'invoices:write'?"),
        ('formats = ["json", "jsno"]\n' + ACME, "acme.toml:1: formats[1]",
         "'jsno' is not a known format"),
        (ACME.replace('["wms.receipts.expected"]', '["wms.>"]'),
         "acme.toml:8: routes.ship_notice[0]", "not a concrete NATS subject"),
        (ACME + f'[[certificates]]\nfingerprint = "{FP}"\nnot_afterr = 2030-01-01T00:00:00Z\n',
         "acme.toml:12: certificates[1].not_afterr", "did you mean `not_after`?"),
        (ACME + f'[[certificates]]\nfingerprint = "{FP}"\nnot_after = 2030-01-01T00:00:00\n',
         "acme.toml:12: certificates[1].not_after", "timezone"),
        (ACME.replace('subject = "CN=acme,O=Wharf dev PKI"', 'subject = "CN=acme, O=Acme"'),
         "acme.toml:5: certificates[0].subject", "not an RFC 4514 name"),
        ('tolerances.price_percent = -1\n' + ACME, "acme.toml:1: tolerances.price_percent",
         "must be a number >= 0"),
        ("rate_limit = { requests_per_window = 10, documents_per_window = 0, "
         "window_seconds = 60 }\n" + ACME, "acme.toml:1: rate_limit.documents_per_window",
         "Expected `int` >= 1"),
        ('formats = ["x12"]\nversions = { x12 = ["004010", "4010"] }\n' + ACME,
         "acme.toml:2: versions.x12[1]", "'4010' is not a GS08 version"),
        ('versions = { x12 = ["004010"] }\n' + ACME, "acme.toml:1: versions.x12",
         "format 'x12' is not in formats"),
        ('formats = ["x12"]\n' + ACME + '[x12_overrides]\n"item.part" = "PO107"\n',
         'acme.toml:12: x12_overrides."item.part"', "unknown key 'item.part'"),
        (ACME.replace('"ap.invoice.received"]', '"ap.x", "http://ap.example.com/in"]'),
         "acme.toml:9: routes.invoice[1]", "must use https://"),
        (ACME.replace('"ap.invoice.received"]', '"https://u:secret@ap.example.com/in"]'),
         "acme.toml:9: routes.invoice[0]", "must not carry credentials"),
        ('id = "globex"\n' + ACME, "acme.toml:1: id", "differs from the file name"),
        (ACME.replace('name = "Acme"\n', ""), "acme.toml:1: name", "missing required field"),
        ('mapping = "../outside.toml"\n' + ACME, "acme.toml:1: mapping", "inside the policy"),
        ('mapping = "_mappings/none.toml"\n' + ACME, "acme.toml:1: mapping", "not found"),
        (ACME + "suspended = yes\n", "acme.toml:10: None", "Invalid value"),
    ],
    ids=[
        "key-under-table", "unknown-key", "doc-type-typo", "scope-typo", "format-typo",
        "wildcard-subject", "second-certificate-typo", "naive-datetime", "bad-subject",
        "dotted-key", "inline-table", "bad-version", "version-without-format", "x12-override",
        "plain-http", "credentials-in-url", "id-mismatch", "missing-name", "mapping-escape",
        "mapping-missing", "toml-syntax",
    ],
)
def test_every_mistake_names_file_line_and_key_path(
    tmp_path: Path, text: str, expected: str, message: str
) -> None:
    write(tmp_path, {"acme.toml": text})
    error = refusal(tmp_path)
    assert where(error, tmp_path) == expected
    assert message in error.detail
    assert str(error).startswith(f"{tmp_path / 'acme.toml'}:{error.line}: ")


def test_all_errors_of_a_directory_are_reported_in_file_order(tmp_path: Path) -> None:
    write(tmp_path, {
        "acme.toml": ACME + "surprise = 1\n",
        "globex.toml": ACME.replace("acme", "globex").replace("traces:read", "traces:write"),
    })
    error = refusal(tmp_path)
    lines = str(error).splitlines()
    assert [where(e, tmp_path) for e in error.errors] == [
        "acme.toml:10: routes.surprise", "globex.toml:2: scopes[2]",
    ]
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'acme.toml'}:10: routes.surprise: ")
    assert lines[1].startswith(f"{tmp_path / 'globex.toml'}:2: scopes[2]: 'traces:write' is not")


def test_a_partner_id_defined_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {
        "emea/acme.toml": ACME,
        "us/acme.toml": ACME.replace("CN=acme", "CN=acme-us"),
    })
    error = refusal(tmp_path)
    assert where(error, tmp_path) == "us/acme.toml:1: id"
    assert f"already defined in {tmp_path / 'emea' / 'acme.toml'}" in error.detail


@pytest.mark.parametrize(
    ("rule", "line", "key"),
    [('subject = "CN=acme,O=Wharf dev PKI"', 5, "subject"), (f'fingerprint = "{FP}"', 5,
                                                             "fingerprint")],
)
def test_one_certificate_granted_to_two_partners_is_refused(
    tmp_path: Path, rule: str, line: int, key: str
) -> None:
    acme = ACME.replace('subject = "CN=acme,O=Wharf dev PKI"', rule)
    write(tmp_path, {"acme.toml": acme, "globex.toml": acme.replace('"Acme"', '"Globex"')})
    error = refusal(tmp_path)
    assert where(error, tmp_path) == f"globex.toml:{line}: certificates[0].{key}"
    assert f"already granted to partner 'acme' ({tmp_path / 'acme.toml'}:5)" in error.detail


def test_an_oauth_client_id_belongs_to_one_partner(tmp_path: Path) -> None:
    write(tmp_path, {
        "acme.toml": ACME,
        "globex.toml": 'oauth_client_id = "acme"\n' + ACME.replace("CN=acme", "CN=globex"),
    })
    error = refusal(tmp_path)
    assert where(error, tmp_path) == "globex.toml:1: oauth_client_id"
    assert "already belongs to partner 'acme'" in error.detail


def test_a_mapping_file_is_checked_and_must_not_pass_for_a_partner(tmp_path: Path) -> None:
    mapping = REPO / "examples" / "mappings" / "globex-asn.toml"
    (tmp_path / "_mappings").mkdir()
    shutil.copy(mapping, tmp_path / "_mappings" / "asn.toml")
    write(tmp_path, {"acme.toml": 'mapping = "_mappings/asn.toml"\n' + ACME})
    assert load_policies(tmp_path).partners["acme"].mapping == "_mappings/asn.toml"

    (tmp_path / "_mappings" / "asn.toml").write_text('extends = "no_such_template"\n')
    error = refusal(tmp_path)
    assert "unknown template 'no_such_template'" in str(error)

    (tmp_path / "mappings").mkdir()
    shutil.copy(mapping, tmp_path / "mappings" / "asn.toml")
    write(tmp_path, {"acme.toml": 'mapping = "mappings/asn.toml"\n' + ACME})
    messages = str(refusal(tmp_path))
    assert "would also be read as a partner file" in messages


# -- the locator on its own ----------------------------------------------------------------------


def test_key_lines_follow_tables_arrays_inline_tables_and_strings() -> None:
    text = '''\
title = """
[not_a_table]
fake = 1
"""
a.b . "c.d" = { e = 1, f = [
  10,
  { g = 2 },
] }
[[x.y]]
z = 'first'
[[x.y]]
z = '#not a comment' # comment ]]
[x.y.w]
v = [ [1, 2],
  [3] ]
'''
    lines = key_lines(text)
    assert lines.line_of(("title",)) == 1
    assert ("not_a_table",) not in lines and ("fake",) not in lines
    assert lines.line_of(("a", "b", "c.d", "e")) == 5
    assert lines.line_of(("a", "b", "c.d", "f", 1, "g")) == 7
    assert lines.line_of(("x", "y", 0, "z")) == 10
    assert lines.line_of(("x", "y", 1, "z")) == 12
    assert lines.line_of(("x", "y", 1, "w", "v", 1, 0)) == 15
    assert lines.line_of(("x", "y", 1, "missing")) == 11  # nearest written ancestor
    assert render_path(("a", "b", "c.d", "f", 1, "g")) == 'a.b."c.d".f[1].g'


# -- certificates: who a certificate is, and when --------------------------------------------------


def cert_info(pki: Pki, out: Path, name: str, *, start: dt.datetime, days: int) -> CertificateInfo:
    issued = issue_client(pki.dir, name, not_before=start, days=days, out_dir=out)
    return describe(x509.load_pem_x509_certificate(issued.cert.read_bytes()))


def test_expired_and_not_yet_valid_certificates_are_refused(pki: Pki, tmp_path: Path) -> None:
    write(tmp_path, {"acme.toml": ACME})
    policies = load_policies(tmp_path)
    expired = cert_info(pki, tmp_path / "old", "acme", start=NOW - dt.timedelta(days=30), days=10)
    future = cert_info(pki, tmp_path / "new", "acme", start=NOW + dt.timedelta(days=1), days=10)
    current = cert_info(pki, tmp_path / "now", "acme", start=NOW - dt.timedelta(hours=1), days=10)

    for info, reason in ((expired, "expired at"), (future, "is not valid before")):
        with pytest.raises(AuthError) as caught:
            policies.identify(info)
        assert caught.value.status == 401 and reason in caught.value.detail
        assert policies.partner_for(info) is None
    assert policies.identify(current).id == "acme"
    assert policies.partner_for(current) is not None


def test_rotation_windows_let_two_certificates_overlap(pki: Pki, tmp_path: Path) -> None:
    old = cert_info(pki, tmp_path / "old", "acme", start=NOW - dt.timedelta(days=300), days=365)
    new = cert_info(pki, tmp_path / "new", "acme", start=NOW - dt.timedelta(hours=1), days=365)
    cutover = NOW + dt.timedelta(days=7)
    write(tmp_path, {"acme.toml": f'''\
name = "Acme"
[[certificates]]
fingerprint = "{old.fingerprint}"
not_after = {cutover.isoformat()}
[[certificates]]
fingerprint = "{new.fingerprint}"
not_before = {(NOW - dt.timedelta(minutes=5)).isoformat()}
'''})
    policies = load_policies(tmp_path)
    assert policies.identify(old).id == policies.identify(new).id == "acme"  # overlap: both
    later = cutover + dt.timedelta(seconds=1)
    assert policies.identify(new, later).id == "acme"
    with pytest.raises(AuthError) as caught:
        policies.identify(old, later)
    assert caught.value.status == 401
    assert "outside its window in partner acme's policy" in caught.value.detail


def test_unknown_ambiguous_and_suspended_certificates(pki: Pki, tmp_path: Path) -> None:
    acme = cert_info(pki, tmp_path / "a", "acme", start=NOW - dt.timedelta(hours=1), days=30)
    stranger = cert_info(pki, tmp_path / "s", "stranger", start=NOW - dt.timedelta(hours=1),
                         days=30)
    write(tmp_path, {
        "acme.toml": ACME,
        # Pins acme's certificate by fingerprint while acme's own rule names its subject.
        "globex.toml": f'name = "Globex"\n[[certificates]]\nfingerprint = "{acme.fingerprint}"\n',
    })
    with pytest.raises(AuthError) as caught:
        load_policies(tmp_path).identify(acme)
    assert caught.value.status == 403
    assert "claimed by more than one partner" in str(caught.value)
    assert "globex" not in str(caught.value), "never tell one partner another's id"

    write(tmp_path, {"acme.toml": "suspended = true\n" + ACME, "globex.toml": ACME.replace(
        "CN=acme", "CN=globex")})
    policies = load_policies(tmp_path)
    with pytest.raises(AuthError) as caught:
        policies.identify(stranger)
    assert caught.value.status == 403 and "is not registered" in caught.value.detail
    with pytest.raises(AuthError, match="partner acme is suspended"):
        policies.identify(acme)
    partner = policies.partner_for(acme)  # the old lookup still finds it; callers check
    assert partner is not None and partner.suspended


# -- diff ----------------------------------------------------------------------------------------


def test_diff_reports_the_effective_change_per_partner(tmp_path: Path) -> None:
    old = write(tmp_path / "old", {
        "_defaults.toml": "[tolerances]\nprice_percent = 1\n",
        "acme.toml": ACME + "[rate_limit]\nrequests_per_window = 100\ndocuments_per_window = "
                            "1000\nwindow_seconds = 60\n",
        "globex.toml": ACME.replace("CN=acme", "CN=globex").replace('"Acme"', '"Globex"'),
    })
    new = write(tmp_path / "new", {
        "_defaults.toml": "[tolerances]\nprice_percent = 2\n",
        "acme.toml": ACME.replace('"invoices:write", ', "").replace(
            '["wms.receipts.expected"]', '["wms.receipts.expected", "https://tms.example/asn"]'
        ) + f'[[certificates]]\nfingerprint = "{FP}"\n'
          + "[rate_limit]\nrequests_per_window = 50\ndocuments_per_window = 1000\n"
            "window_seconds = 60\n",
        "initech.toml": ACME.replace("CN=acme", "CN=initech").replace('"Acme"', '"Initech"'),
    })
    lines = diff_policies(load_policies(old), load_policies(new))
    assert "acme: scopes removed: invoices:write" in lines
    assert f"acme: certificate added: fingerprint {FP}" in lines
    assert ("acme: rate_limit: 100 requests + 1000 documents per 60s (burst 100) → "
            "50 requests + 1000 documents per 60s (burst 50)") in lines
    assert ("acme: routes.ship_notice: wms.receipts.expected → wms.receipts.expected, "
            "https://tms.example/asn") in lines
    assert "acme: tolerances.price_percent: 1 → 2" in lines  # via _defaults.toml
    assert "globex: partner removed (Globex); its certificates no longer identify it" in lines
    assert "initech: partner added (Initech)" in lines
    assert "initech: scopes added: ship-notices:write, invoices:write, traces:read" in lines
    assert not any(line.startswith("initech: name") for line in lines)


def test_diff_names_suspension_and_formats(tmp_path: Path) -> None:
    old = write(tmp_path / "old", {"acme.toml": ACME})
    new = write(tmp_path / "new", {"acme.toml": 'suspended = true\nformats = ["json", "csv"]\n'
                                                + ACME})
    assert diff_policies(load_policies(old), load_policies(new)) == [
        "acme: formats added: csv", "acme: SUSPENDED: every request is refused",
    ]
    assert diff_policies(load_policies(new), load_policies(new)) == []
    assert diff_policies(load_policies(new), load_policies(old)) == [
        "acme: formats removed: csv", "acme: no longer suspended",
    ]


# -- expiring certificates -----------------------------------------------------------------------


def test_expiring_lists_certificates_and_policy_windows_within_the_horizon(
    pki: Pki, tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    soon = issue_client(pki.dir, "acme", days=10, out_dir=certs / "soon")
    later = issue_client(pki.dir, "globex", days=100, out_dir=certs / "later")
    window_end = NOW + dt.timedelta(days=20)
    write(tmp_path / "p", {
        "acme.toml": ACME,
        "globex.toml": f'name = "Globex"\n[[certificates]]\nfingerprint = "{later.fingerprint}"\n'
                       f"not_after = {window_end.isoformat()}\n",
    })
    found = expiring_certificates(load_policies(tmp_path / "p"), [certs], days=30, now=NOW)

    assert [(e.partner, e.reason) for e in found] == [("acme", "certificate"), ("globex", "policy")]
    first, second = found
    assert first.fingerprint == soon.fingerprint and first.file == str(soon.cert)
    assert 9.9 < first.days_left <= 10 and re.fullmatch(r"[0-9a-f]+", first.serial or "")
    assert second.fingerprint == later.fingerprint and second.not_after == window_end
    assert expiring_certificates(load_policies(tmp_path / "p"), [certs], days=5, now=NOW) == []
