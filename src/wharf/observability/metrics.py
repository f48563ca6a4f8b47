"""Prometheus metrics for operators: ``GET /metrics`` on the internal listener.

Counters are incremented where things happen (a refused request, an accepted document); the
state of the policy and revocation stores and the certificates' remaining validity are read
at scrape time, so a scrape always shows what is in force now. One :class:`Metrics` per
runtime, with a registry of its own (several runtimes can share a process in tests).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from prometheus_client.core import Metric

    from wharf.policies import PolicyStore
    from wharf.policies.expiry import ExpiringCertificate
    from wharf.security.revocation import RevocationStore

__all__ = ("CONTENT_TYPE", "Metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Wharf's metrics and the registry that exposes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.auth_failures = Counter(
            "wharf_auth_failures", "Partner requests refused by the gateway",
            ["status"], registry=self.registry,
        )
        self.rate_limited = Counter(
            "wharf_rate_limited", "Partner requests refused by a rate limit",
            ["partner", "kind"], registry=self.registry,
        )
        self.documents = Counter(
            "wharf_documents_accepted", "Documents accepted into partner mailboxes",
            ["partner", "format", "doc_type"], registry=self.registry,
        )
        self.rejected_parts = Counter(
            "wharf_documents_rejected", "Documents refused at the edge (bad content, no route)",
            ["partner", "format"], registry=self.registry,
        )

    def watch(
        self,
        policies: PolicyStore,
        revocations: RevocationStore,
        expiring: Callable[[], Iterable[ExpiringCertificate]],
    ) -> None:
        """Report the stores' state and certificate expiry at every scrape."""
        self.registry.register(_StateCollector(policies, revocations, expiring))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(
        self,
        policies: PolicyStore,
        revocations: RevocationStore,
        expiring: Callable[[], Iterable[ExpiringCertificate]],
    ) -> None:
        self._policies = policies
        self._revocations = revocations
        self._expiring = expiring

    def collect(self) -> Iterator[Metric]:
        for name, store in (("policy", self._policies), ("revocation", self._revocations)):
            status = store.status()
            yield _gauge(f"wharf_{name}_generation", f"Accepted {name} loads since start",
                         status.generation)
            yield _gauge(f"wharf_{name}_reload_rejections", f"Rejected {name} changes since start",
                         status.rejected_count)
            yield _gauge(f"wharf_{name}_current", f"1 when the latest {name} files are in force",
                         1 if status.current else 0)
        days = GaugeMetricFamily(
            "wharf_certificate_days_left", "Days until a partner certificate (or its grant) ends",
            labels=["partner", "fingerprint", "reason"],
        )
        for cert in self._expiring():
            days.add_metric(
                [cert.partner or "", cert.fingerprint or "", cert.reason], cert.days_left
            )
        yield days
        yield _gauge("wharf_scrape_time_seconds", "When this scrape was taken",
                     dt.datetime.now(dt.UTC).timestamp())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
