"""A partner's mailbox: a pinned, ordered JetStream pull consumer on ``WHARF_IN``.

One durable consumer per partner (filter ``wharf.in.<partner>.>``, explicit ack,
``max_ack_pending=1``) gives strict per-partner order, one document at a time. The consumer
sits in a priority group with the ``pinned_client`` policy: every Wharf process pulls for
every partner, and the server delivers only to the pinned one, so each partner's actor is
active in exactly one process. A process that stops pulling loses the pin after
``priority_timeout``; a process shutting down releases it at once (UNPIN).

nats-py 2.16 has no API for priority groups, so the pull requests and UNPIN go to the
JetStream API directly (``$JS.API.CONSUMER.MSG.NEXT`` with ``group`` and the pin ``id``).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import anyio
import nats.errors

from wharf.broker import subjects
from wharf.errors import BrokerError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from wharf.settings import ActorSettings

__all__ = ("GROUP", "Mailbox", "consumer_name")

log = logging.getLogger(__name__)

GROUP = "wharf"
_NS = 1_000_000_000
_API = "$JS.API"
_MAX_FAILURES = 5


def consumer_name(partner: str) -> str:
    return f"wharf-actor-{partner}"


class Mailbox:
    """Pulls one partner's documents, one at a time, from the pinned consumer."""

    def __init__(self, nc: Client, partner: str, settings: ActorSettings) -> None:
        self._nc = nc
        self._settings = settings
        self.partner = partner
        self.name = consumer_name(partner)
        self._pin_id: str | None = None
        self._failures = 0
        self._sub: Subscription | None = None
        self._inbox = ""

    async def _api(self, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await self._nc.request(
                f"{_API}.{subject}", json.dumps(payload).encode(), timeout=5.0
            )
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise BrokerError(f"JetStream API {subject} did not answer: {exc!r}") from exc
        answer: dict[str, Any] = json.loads(reply.data)
        return answer

    async def open(self) -> None:
        """Create or update the durable consumer and the inbox that receives pulled messages."""
        config = {
            "durable_name": self.name,
            "description": f"Wharf supplier actor mailbox for {self.partner}",
            "filter_subject": subjects.inbound_filter(self.partner),
            "deliver_policy": "all",
            "ack_policy": "explicit",
            "ack_wait": int(self._settings.ack_wait * _NS),
            "max_ack_pending": 1,
            # Wharf counts attempts and dead-letters after max_deliveries itself. No server
            # limit: if Wharf cannot reach the DLQ, the document must stay, not be dropped.
            "max_deliver": -1,
            "priority_groups": [GROUP],
            "priority_policy": "pinned_client",
            "priority_timeout": int(self._settings.priority_timeout * _NS),
        }
        answer = await self._api(
            f"CONSUMER.CREATE.{subjects.IN_STREAM}.{self.name}",
            {"stream_name": subjects.IN_STREAM, "config": config, "action": ""},
        )
        if "error" in answer:
            raise BrokerError(f"cannot create mailbox {self.name}: {answer['error']}")
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox)

    async def close(self, *, unpin: bool = True) -> None:
        """Stop receiving; release the pin so another process takes over at once."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        if unpin and self._pin_id is not None and self._nc.is_connected:
            try:
                await self._api(
                    f"CONSUMER.UNPIN.{subjects.IN_STREAM}.{self.name}", {"group": GROUP}
                )
            except BrokerError as exc:
                log.warning("could not unpin %s: %s", self.name, exc)
            self._pin_id = None

    async def next(self) -> Msg | None:
        """The partner's next document, or None when none came within ``pull_expires``."""
        assert self._sub is not None, "open() the mailbox first"
        request: dict[str, Any] = {
            "batch": 1,
            "expires": int(self._settings.pull_expires * _NS),
            "group": GROUP,
        }
        if self._pin_id is not None:
            request["id"] = self._pin_id
        await self._nc.publish(
            f"{_API}.CONSUMER.MSG.NEXT.{subjects.IN_STREAM}.{self.name}",
            json.dumps(request).encode(),
            reply=self._inbox,
        )
        try:
            msg = await self._sub.next_msg(timeout=self._settings.pull_expires + 2.0)
        except nats.errors.TimeoutError:
            return None
        status = (msg.headers or {}).get("Status")
        if status is None:
            self._failures = 0
            self._pin_id = (msg.headers or {}).get("Nats-Pin-Id", self._pin_id)
            return msg
        description = (msg.headers or {}).get("Description", "")
        if status == "423":  # the pin moved to another process (or we lost it)
            self._pin_id = None
        elif status == "409" and "deleted" in description.lower():
            raise BrokerError(f"mailbox {self.name}: {description}")  # the actor re-opens it
        elif status not in ("404", "408", "409"):
            log.warning("mailbox %s: pull answered %s %s", self.name, status, description)
            if status in ("400", "503"):
                self._failures += 1
                if self._failures >= _MAX_FAILURES:
                    # The consumer is gone (deleted, stream recreated): let the supervisor
                    # restart the actor, which creates it again.
                    raise BrokerError(f"mailbox {self.name}: {self._failures} pulls failed")
                # bad request or no JetStream leader: back off instead of spinning
                await anyio.sleep(1.0)
            return None
        self._failures = 0
        return None
