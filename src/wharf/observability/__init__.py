"""What operations see: business events, the trace store, health."""

from __future__ import annotations

from wharf.observability.events import Event, EventData, EventEmitter
from wharf.observability.tracestore import Trace, TraceEntry, TraceStore

__all__ = ("Event", "EventData", "EventEmitter", "Trace", "TraceEntry", "TraceStore")
