"""UN/EDIFACT for Wharf: D96A/D01B (and EANCOM) ORDERS, ORDRSP, DESADV, INVOIC, and CONTRL.

:class:`EdifactCodec` reads an interchange into one canonical document (or pointed error) per
message and answers it with a CONTRL; it writes purchase orders, acknowledgments, ship notices
and invoices as UNA/UNB..UNZ interchanges. Internals, one concept per module:

* ``syntax`` — UNA service characters, UNB character sets, release characters, the tokenizer;
* ``envelope`` — UNB/UNZ, UNG/UNE, UNH/UNT framing and their checks;
* ``values`` — numbers, dates, units and codes with pointed errors (0085 codes);
* ``groups``, ``parties``, ``items`` — the segment groups the messages share;
* ``orders``, ``ordrsp``, ``desadv``, ``invoic`` — one message type each, read and written;
* ``contrl`` — CONTRL generation and reading; ``writer`` — escaping and the envelope out;
* ``codec`` — the :class:`~wharf.codecs.base.Codec` / :class:`~wharf.codecs.base.Writer`.
"""

from __future__ import annotations

from wharf.codecs.edifact.codec import EdifactCodec

__all__ = ("EdifactCodec",)
