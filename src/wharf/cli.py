"""The ``wharf`` command line. The only module that prints or exits."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import get_args

import anyio

from wharf import __version__
from wharf.errors import WharfError
from wharf.model import DocType
from wharf.observability.logging import configure
from wharf.pki import init_ca, issue_client
from wharf.policies import load_policies
from wharf.settings import Settings, load_settings

__all__ = ("main",)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None), os.environ)


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def _serve(settings: Settings, *, demo: bool = False) -> None:
    from wharf.runtime import Runtime, run

    async with anyio.create_task_group() as tg:
        runtime: Runtime = await tg.start(run, settings)
        _say(f"Wharf {__version__} is running")
        _say(f"  partner API (mTLS)  {runtime.partner_url}/v1/documents")
        _say(f"  internal API        {runtime.internal_url}  (/readyz, /internal/v1/traces/ID)")
        _say(f"  NATS                {runtime.nats_url}"
             + ("  (embedded, store " + settings.nats.embedded.store_dir + ")"
                if settings.nats.url is None else ""))
        _say(f"  SQLite              {settings.storage.database}")
        _say(f"  CA certificate      {runtime.pki.ca_cert}")
        _say(f"  server certificate  {runtime.pki.server_cert}")
        for created in runtime.pki.created:
            _say(f"  created             {created}")
        _say(f"  policies            {settings.policies.dir} "
             f"({len(runtime.policies.current().partners)} partners: "
             f"{', '.join(sorted(runtime.policies.current().partners))})")
        if demo:
            from wharf.demo import play

            _say("")
            await play(runtime, _say)
            _say("")
            _say(f"  buyer exceptions    {runtime.internal_url}/internal/v1/exceptions")
            _say("  a trace             .venv/bin/wharf trace <correlation id>")
            _say(f"  metrics             {runtime.internal_url}/metrics")
        _say("Press Ctrl+C to stop.")
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                _say("stopping…")
                runtime.stop.set()
                break


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure(settings.log_level)
    anyio.run(_serve, settings, backend="asyncio")
    return 0


def _pki_dir(args: argparse.Namespace) -> tuple[Settings, Path]:
    settings = _settings(args)
    return settings, Path(args.dir or settings.pki.dir)


def cmd_demo(args: argparse.Namespace) -> int:
    from wharf.demo import demo_settings

    settings = demo_settings(_settings(args))
    configure(settings.log_level)
    anyio.run(lambda: _serve(settings, demo=True), backend="asyncio")
    return 0


def cmd_certs_init(args: argparse.Namespace) -> int:
    from wharf.pki import ensure_server_pki

    settings, directory = _pki_dir(args)
    pki = ensure_server_pki(directory, settings.pki.server_names)
    _say(f"CA certificate:     {pki.ca_cert}" + ("  (created)" if str(pki.ca_cert) in pki.created else "  (exists)"))
    _say(f"server certificate: {pki.server_cert}  ({', '.join(settings.pki.server_names)})")
    _say(f"server key:         {pki.server_key}")
    return 0


def cmd_certs_issue(args: argparse.Namespace) -> int:
    _, directory = _pki_dir(args)
    init_ca(directory)
    issued = issue_client(directory, args.partner, days=args.days,
                          out_dir=Path(args.out) if args.out else None)
    _say(f"certificate:  {issued.cert}")
    _say(f"key:          {issued.key}")
    _say(f"fingerprint:  {issued.fingerprint}")
    _say(f"subject:      CN={args.partner},O=Wharf dev PKI")
    _say("policy entry:")
    _say("  [[certificates]]")
    _say(f'  fingerprint = "{issued.fingerprint}"')
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    directory = args.dir or _settings(args).policies.dir
    policies = load_policies(directory)
    for partner in sorted(policies.partners.values(), key=lambda p: p.id):
        routes = ", ".join(
            f"{k}→{'+'.join(v)}" for k, v in sorted(partner.routes.items()) if v
        )
        _say(f"{partner.id}: {partner.name}; formats {', '.join(partner.formats)}; {routes}")
    _say(f"{directory}: {len(policies.partners)} partners, no errors")
    return 0


def cmd_policy_diff(args: argparse.Namespace) -> int:
    from wharf.policies import diff_policies

    lines = diff_policies(load_policies(args.old), load_policies(args.new))
    for line in lines:
        _say(line)
    if not lines:
        _say("no effective change")
    return 0


def cmd_certs_expiring(args: argparse.Namespace) -> int:
    from wharf.policies.expiry import expiring_certificates

    settings = _settings(args)
    sources = args.files or [settings.pki.dir]
    found = expiring_certificates(load_policies(settings.policies.dir), sources, args.days)
    for cert in found:
        owner = cert.partner or "(no partner)"
        serial = f"serial {cert.serial}" if cert.serial else ""
        _say(f"{cert.not_after:%Y-%m-%d}  {cert.days_left:6.1f} days  {owner:<16} {cert.reason:<11} "
             f"{cert.subject or ''} {cert.fingerprint or ''} {serial} {cert.file or ''}".rstrip())
    if not found:
        _say(f"no certificate ends within {args.days:g} days")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from wharf.security.keyring import KeyRing

    settings = _settings(args)
    ring = KeyRing(settings.oauth.signing, token_lifetime=settings.oauth.token_lifetime)
    kid = ring.rotate()
    _say(f"new signing key {kid} in {settings.oauth.signing.dir}; older keys verify until they expire")
    return 0


def _internal_url(args: argparse.Namespace) -> str:
    if getattr(args, "url", None):
        return str(args.url)
    listener = _settings(args).gateway.internal
    return f"http://{listener.host}:{listener.port}"


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from wharf.dlq_cli import dlq_list, filters_from

    return dlq_list(_internal_url(args), filters_from(args), sys.stdout)


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from wharf.dlq_cli import dlq_replay, filters_from

    return dlq_replay(_internal_url(args), filters_from(args), not args.execute, sys.stdout)


def cmd_trace(args: argparse.Namespace) -> int:
    settings = _settings(args)
    listener = settings.gateway.internal
    url = args.url or f"http://{listener.host}:{listener.port}"
    try:
        with urllib.request.urlopen(f"{url}/internal/v1/traces/{args.correlation_id}", timeout=10) as r:
            trace = json.load(r)
    except urllib.error.HTTPError as exc:
        _say(f"wharf: trace: {exc.code} {json.load(exc).get('detail', '')}")
        return 1
    except urllib.error.URLError as exc:
        _say(f"wharf: trace: cannot reach {url}: {exc.reason}")
        return 1
    _say(f"{trace['correlation_id']}  {trace['partner']}  {trace['doc_type']}  {trace['status']}")
    for event in trace["events"]:
        extra = " ".join(
            f"{k}={event[k]}" for k in ("step", "attempt", "target", "error", "retry_in")
            if k in event
        )
        _say(f"  {event['time']}  {event['event']:<14} {extra}")
    return 0


def cmd_mapping_test(args: argparse.Namespace) -> int:
    from wharf.codecs.mapping import run_mapping_test

    return run_mapping_test(Path(args.mapping), [Path(s) for s in args.samples], sys.stdout)


def cmd_schema(args: argparse.Namespace) -> int:
    from wharf.model.schema import json_schema

    _say(json.dumps(json_schema(args.doc_type), indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wharf", description="Supplier integration gateway")
    parser.add_argument("--version", action="version", version=f"wharf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway, actors and projections")
    serve.add_argument("--config", help="settings file (default: ./wharf.toml if present)")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="serve, plus simulated suppliers trading documents")
    demo.add_argument("--config", help="settings file (default: ./wharf.toml if present)")
    demo.set_defaults(func=cmd_demo)

    certs = sub.add_parser("certs", help="dev PKI").add_subparsers(dest="certs", required=True)
    init = certs.add_parser("init", help="create the dev CA and server certificate")
    init.add_argument("--dir", help="PKI directory (default: var/pki)")
    init.set_defaults(func=cmd_certs_init)
    issue = certs.add_parser("issue", help="issue a partner client certificate")
    issue.add_argument("partner")
    issue.add_argument("--dir", help="PKI directory (default: var/pki)")
    issue.add_argument("--out", help="where to write the certificate and key")
    issue.add_argument("--days", type=int, default=365)
    issue.set_defaults(func=cmd_certs_issue)
    expiring = certs.add_parser("expiring", help="certificates that end within --days")
    expiring.add_argument("--days", type=float, default=30)
    expiring.add_argument("files", nargs="*", help="PEM files or folders (default: the PKI dir)")
    expiring.set_defaults(func=cmd_certs_expiring)

    keys = sub.add_parser("keys", help="token signing keys").add_subparsers(
        dest="keys", required=True
    )
    rotate = keys.add_parser("rotate", help="make a new signing key the active one")
    rotate.set_defaults(func=cmd_keys_rotate)

    policy = sub.add_parser("policy", help="partner policy files").add_subparsers(
        dest="policy", required=True
    )
    check = policy.add_parser("check", help="validate a policy directory")
    check.add_argument("dir", nargs="?")
    check.set_defaults(func=cmd_policy_check)
    diff = policy.add_parser("diff", help="the effective change between two policy directories")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.set_defaults(func=cmd_policy_diff)

    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(dest="dlq", required=True)
    dlq_ls = dlq.add_parser("list", help="list dead letters")
    dlq_replay = dlq.add_parser(
        "replay", help="reprocess dead letters (a dry run with a diff unless --execute)"
    )
    dlq_replay.add_argument("--execute", action="store_true", help="really replay them")
    from wharf.dlq_cli import add_filter_arguments

    add_filter_arguments(dlq_ls)
    add_filter_arguments(dlq_replay, seqs=True)
    dlq_ls.set_defaults(func=cmd_dlq_list)
    dlq_replay.set_defaults(func=cmd_dlq_replay)

    trace = sub.add_parser("trace", help="show a document's trace")
    trace.add_argument("correlation_id")
    trace.add_argument("--url", help="internal listener URL (default from settings)")
    trace.set_defaults(func=cmd_trace)

    mapping = sub.add_parser("mapping", help="declarative supplier mappings").add_subparsers(
        dest="mapping_command", required=True
    )
    mapping_test = mapping.add_parser(
        "test", help="show the canonical result (or the pointed errors) of samples"
    )
    mapping_test.add_argument("mapping", help="mapping file (TOML)")
    mapping_test.add_argument("samples", nargs="+", help="supplier files to map")
    mapping_test.set_defaults(func=cmd_mapping_test)

    schema = sub.add_parser("schema", help="print the canonical JSON Schema")
    schema.add_argument("doc_type", nargs="?", choices=get_args(DocType))
    schema.set_defaults(func=cmd_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except WharfError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
