"""Logging setup for the ``wharf`` command (library modules only call ``getLogger``)."""

from __future__ import annotations

import logging

__all__ = ("configure",)


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # uvicorn's per-request error logs duplicate ours
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
