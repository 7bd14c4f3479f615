"""The report's to-do list against today's enrollments (SPEC 6.1): counts of keep, new,
reprice and exit, the rows to register or change, the exits with today's price, and the kept
rows that now break a rule; no list without `current` (every row is new)."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from optimizer.cli import EXIT_OK, main
from optimizer.report.collect import aggregate

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"


def _solve(scenario: Path, out: Path) -> None:
    res = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(out), "-q"])
    assert res.exit_code == EXIT_OK, res.output


def _text(page: str, section: str) -> str:
    """A section's words without tags, entities decoded."""
    start = page.index(f'<section id="{section}">')
    tags = re.sub(r"<[^>]+>", " ", page[start: page.index("</section>", start)])
    return re.sub(r"\s+", " ", html.unescape(tags))


def test_todo_list_of_the_next_month(tmp_path: Path) -> None:
    out = tmp_path / "next"
    _solve(SHIPPED / "packaging-bags-next-month" / "scenario.yaml", out)
    solve = aggregate(out)["solve"]
    changes, todo = solve["changes"], solve["todo"]
    assert changes["keep"] >= 4 and changes["exit"] >= 1
    assert len(todo["changes"]) == min(changes["new"] + changes["reprice"], 500)
    assert {r["change"] for r in todo["changes"]} <= {"new", "reprice"}
    assert ("CTN-5L-6", "aliexpress_semi", "current price 13.80") in {
        (r["sku_id"], r["program"], r["detail"]) for r in todo["exits"]}
    assert [(r["sku_id"], r["program"]) for r in todo["warned"]] == [("BUB-20x25", "yanxuan")]

    res = CliRunner().invoke(main, ["report", str(out), "-q"])
    assert res.exit_code == EXIT_OK, res.output
    text = _text((out / "report.html").read_text(encoding="utf-8"), "todo")
    assert f"keep (nothing to do) {changes['keep']}" in text
    assert f"leave (exit) {changes['exit']}" in text
    assert "CTN-5L-6 aliexpress_semi 速卖通半托管 current price 13.80" in text
    assert "BUB-20x25 yanxuan 严选 20.60 price 20.60 > 0.95 x market_price 20.425" in text


def test_no_todo_list_without_current(tmp_path: Path) -> None:
    scen = tmp_path / "scenario"
    shutil.copytree(SHIPPED / "packaging-bags", scen)
    out = tmp_path / "out"
    _solve(scen / "scenario.yaml", out)
    solve = aggregate(out)["solve"]
    assert solve["changes"] is None and solve["todo"] is None
    res = CliRunner().invoke(main, ["report", str(out), "-q"])
    assert res.exit_code == EXIT_OK, res.output
    assert 'id="todo"' not in (out / "report.html").read_text(encoding="utf-8")
