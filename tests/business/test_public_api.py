"""The business package's public names: all importable, listed once, in order."""

from __future__ import annotations

import wharf.business


def test_public_names_exist_and_are_sorted() -> None:
    names = wharf.business.__all__
    assert list(names) == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(wharf.business, name) is not None, name
