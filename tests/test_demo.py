"""``wharf demo``'s suppliers, played against a test Wharf: every workflow ends as designed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wharf.demo import SCENARIOS, play

if TYPE_CHECKING:
    from tests.conftest import WharfFactory

EXAMPLES = Path(__file__).parents[1] / "examples"


async def test_demo_scenarios_end_where_they_should(make_wharf: WharfFactory) -> None:
    async with make_wharf(
        policies__dir=str(EXAMPLES / "demo" / "policies"),
        business__masterdata_dir=str(EXAMPLES / "masterdata"),
    ) as wharf:
        lines: list[str] = []
        finals = await play(wharf, lines.append)
    assert len(finals) == len(SCENARIOS)
    assert finals == [
        "posted", "posted", "held_for_review", "held_for_review",
        "posted", "posted", "posted", "posted", "posted",
        "refused at the gateway (HTTP 400)",
        "posted", "posted", "posted", "posted", "dead_lettered",
    ], "\n".join(lines)
