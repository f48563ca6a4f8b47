"""NAD parties: reading a party with its GLN, DUNS or own id, name and address; writing one.

Why this module exists: every mapped message names its parties the same way. NAD C082 holds one
identification: with code list agency 9 (GS1) and 13 digits it is a GLN, with agency 16 and 9 or 13
digits a D-U-N-S number, otherwise the party's id as the sender knows it. A second id rides in an
``RFF+API`` (additional party identification) right after the NAD, which is how the writer keeps
both a GLN and an own id. Names (C080) and street lines (C059) arrive split in 35-character
components; names are joined with a space, and the writer wraps at spaces so that joining gives
the name back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from wharf.codecs.edifact.values import check_code, joined
from wharf.codecs.edifact.writer import wrap
from wharf.model import Address, Party

if TYPE_CHECKING:
    from wharf.codecs.edifact.groups import Seg
    from wharf.codecs.edifact.values import Fields
    from wharf.codecs.edifact.writer import SegmentWriter

__all__ = ("parties_of", "party", "write_party")


# --- parties --------------------------------------------------------------------------------


def parties_of(segments: list[Seg], f: Fields) -> dict[str, tuple[Party, int]]:
    """NAD parties by role (3035), each with an RFF+API that follows it as its own id."""
    out: dict[str, tuple[Party, int]] = {}
    role: str | None = None
    for seg, position in segments:
        tag = seg[0]
        if tag == "NAD":
            role = f.text(seg, 1).upper()
            found = None if role in out else _party(seg, position, f)
            if found is None:
                role = None
            else:
                out[role] = (found, position)
        elif tag == "RFF" and role is not None and f.code(seg, 1) == "API":
            party, at = out[role]
            value = f.text(seg, 1, 1)
            if value and party.id is None:
                out[role] = (msgspec.structs.replace(party, id=value), at)
        elif tag not in ("RFF", "CTA", "COM", "LOC", "FII", "DOC"):
            role = None
    return out


def _party(seg: list[str], position: int, f: Fields) -> Party | None:
    """The party a NAD names; None for a NAD with nothing but its role (``NAD+DP``)."""
    c082 = f.parts(seg, 2)
    ident = c082[0] if c082 else ""
    agency = c082[2] if len(c082) > 2 else ""
    gln = duns = pid = None
    if ident:
        if agency == "9" and len(ident) == 13 and ident.isascii() and ident.isdigit():
            gln = ident
        elif agency == "16" and len(ident) in (9, 13) and ident.isascii() and ident.isdigit():
            duns = ident
        else:
            pid = ident
    name = address = None
    if len(seg) > 4:  # most NADs are only a role and a GLN
        name = joined(f.parts(seg, 4), 0, 5) or None
        address = _address(seg, position, f)
    if not (pid or name or gln or duns or address):
        return None
    return Party(id=pid, name=name, gln=gln, duns=duns, address=address)


def _address(seg: list[str], position: int, f: Fields) -> Address | None:
    """NAD C059 street lines, 3164 city, C819 region (code or name), 3251 postcode, 3207."""
    lines = tuple(p for p in f.parts(seg, 5) if p)
    city = f.text(seg, 6) or None
    region = f.text(seg, 7, 0) or f.text(seg, 7, 3) or None
    postal = f.text(seg, 8) or None
    country = f.text(seg, 9) or None
    if country is not None:
        country = check_code(
            country, 2, "ISO 3166 country code", position=position, tag="NAD", element=9
        )
    if not (lines or city or region or postal or country):
        return None
    return Address(lines=lines, city=city, region=region, postal_code=postal, country=country)


def party(parties: dict[str, tuple[Party, int]], roles: tuple[str, ...]) -> Party | None:
    for role in roles:
        found = parties.get(role)
        if found is not None:
            return found[0]
    return None


def write_party(w: SegmentWriter, role: str, who: Party) -> None:
    """NAD (+ RFF+API for an own id beside a GLN or DUNS); a DUNS beside a GLN is dropped."""
    if who.gln:
        c082: tuple[str, ...] = (who.gln, "", "9")
    elif who.duns:
        c082 = (who.duns, "", "16")
    elif who.id:
        c082 = (who.id, "", "ZZZ")
    else:
        c082 = ()
    address = who.address or Address()
    w.add(
        "NAD",
        role,
        c082,
        None,
        wrap(who.name, 35, 5) if who.name else None,
        address.lines,
        address.city,
        address.region,
        address.postal_code,
        address.country,
    )
    if who.id and (who.gln or who.duns):
        w.add("RFF", ("API", who.id))
