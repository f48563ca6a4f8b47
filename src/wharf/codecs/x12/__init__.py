"""ANSI X12 EDI: readers for 850/855/856/810/846/832/997, writers for 850/855/856/810/997.

:class:`X12Codec` is the codec (``decode`` → one part per transaction set + the 997 reply;
``encode`` → a full interchange). The modules, in reading order: :mod:`.tokenizer` (delimiters
and the pitfalls of real files), :mod:`.envelope` (ISA/GS/ST structure and what is fatal),
:mod:`.values` (element values and pointed errors), one module per transaction set
(:mod:`.po850`, :mod:`.ack855`, :mod:`.asn856`, :mod:`.invoice810`, :mod:`.inventory846`,
:mod:`.catalog832`), :mod:`.ack` (997 in and out), :mod:`.writer` and :mod:`.overrides`
(per-supplier item-identifier overrides).
"""

from wharf.codecs.x12.ack import GroupAck, SegmentNote, SetAck, read_997, set_ack, write_997
from wharf.codecs.x12.codec import MEDIA_TYPE, X12Codec
from wharf.codecs.x12.overrides import ItemOverrides

__all__ = (
    "MEDIA_TYPE",
    "GroupAck",
    "ItemOverrides",
    "SegmentNote",
    "SetAck",
    "X12Codec",
    "read_997",
    "set_ack",
    "write_997",
)
