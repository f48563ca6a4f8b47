"""Per-supplier item-identifier overrides: "this supplier sends its part number in PO107".

By default an item's identifiers are read from the qualifier/value pairs of its segment
(PO106/PO107, PO108/PO109 … in PO1; IT106… in IT1; LIN02/LIN03… in LIN; ACK07… in ACK): the
qualifier says what the value is (``VP`` vendor part → ``supplier_part``, ``BP`` buyer part →
``buyer_part``, ``UP``/``EN``/``UK``/``UA`` → ``gtin``, ``SK`` → ``sku``). Some suppliers put a
value under the wrong qualifier, or none. An override names the element that holds a canonical
identifier for that supplier, and wins over the qualifier when that element is not empty::

    X12Codec(overrides={
        "item.supplier_part": "PO107",        # PO107 is the supplier's part, whatever PO106 says
        "item.buyer_part": "PO109,IT109",     # several segments: comma-separated references
        "item.gtin": "LIN03",
    })

Keys are the canonical targets ``item.supplier_part``, ``item.buyer_part``, ``item.gtin`` and
``item.sku``. Values are element references ``<segment><position>`` for the segments that name
items — ``PO1`` (850, 855; positions 06–25), ``IT1`` (810; 06–25), ``LIN`` (856, 846, 832; 02–31)
and ``ACK`` (855 substitutes; 07–28). An element claimed by an override is not also read by its
qualifier. Overrides are validated when the codec is built: a bad key or reference raises
``ValueError`` naming the key; one element may serve one target only.

The mapping is what a partner policy's mapping file refers to (issue 4 item 8); it is plain
strings so that TOML can carry it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("ITEM_TARGETS", "ItemOverrides")

ITEM_TARGETS = ("supplier_part", "buyer_part", "gtin", "sku")

# Segment id -> the element positions that carry product-id qualifier/value pairs.
_RANGES: Mapping[str, range] = {
    "PO1": range(6, 26),
    "IT1": range(6, 26),
    "LIN": range(2, 32),
    "ACK": range(7, 29),
}


@dataclass(frozen=True, slots=True)
class ItemOverrides:
    """Validated overrides: per segment id, which element holds which identifier."""

    by_segment: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, overrides: Mapping[str, str] | None) -> ItemOverrides:
        """Validate ``{"item.<target>": "<SEG><nn>[,<SEG><nn>...]"}``; ValueError names the key."""
        if not overrides:
            return cls()
        found: dict[str, list[tuple[str, int]]] = {}
        claimed: dict[tuple[str, int], str] = {}
        for key, value in overrides.items():
            prefix, _, target = key.partition(".")
            if prefix != "item" or target not in ITEM_TARGETS:
                allowed = ", ".join(f"item.{name}" for name in ITEM_TARGETS)
                raise ValueError(f"x12 overrides: unknown key {key!r}; use one of {allowed}")
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"x12 overrides: {key!r} needs an element reference like 'PO107'")
            for ref in value.split(","):
                ref = ref.strip().upper()
                seg_id, digits = ref[:-2], ref[-2:]
                positions = _RANGES.get(seg_id)
                if positions is None or not (digits.isascii() and digits.isdigit()) or int(digits) not in positions:
                    raise ValueError(
                        f"x12 overrides: {key!r}: {ref!r} is not an item identifier element "
                        f"(PO106-PO125, IT106-IT125, LIN02-LIN31, ACK07-ACK28)"
                    )
                position = int(digits)
                if (seg_id, position) in claimed:
                    raise ValueError(
                        f"x12 overrides: {key!r}: {ref} is already claimed by "
                        f"{claimed[seg_id, position]!r}"
                    )
                claimed[seg_id, position] = key
                found.setdefault(seg_id, []).append((target, position))
        return cls({seg_id: tuple(pairs) for seg_id, pairs in found.items()})

    def for_segment(self, seg_id: str) -> tuple[tuple[str, int], ...]:
        """(target, element position) pairs that apply to segments ``seg_id``."""
        return self.by_segment.get(seg_id, ())
