"""Codecs: supplier formats to and from the canonical model.

Each format has one :class:`Codec`; the :class:`CodecRegistry` built by the runtime maps
formats to codecs and recognises a body's format from its Content-Type (or by sniffing).
"""

from __future__ import annotations

from wharf.codecs.base import Codec, Decoded, Envelope, FunctionalAck, Part, Reply, Writer
from wharf.codecs.canonical_json import CanonicalJsonCodec
from wharf.codecs.registry import CodecRegistry, default_registry

__all__ = (
    "CanonicalJsonCodec",
    "Codec",
    "CodecRegistry",
    "Decoded",
    "Envelope",
    "FunctionalAck",
    "Part",
    "Reply",
    "Writer",
    "default_registry",
)
