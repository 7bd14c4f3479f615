"""CLI paths no other test ran: an internal error and Ctrl-C (exit 1, one line, no traceback,
nothing written), exit 4 when no plan is found in time, the time limit as a hard stop, and a
YAML list in a scenario honoured end to end. Every solve is audited (tests/conftest.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import optimizer.pipeline as pipeline
from optimizer.cli import main
from optimizer.generate import generate
from optimizer.pipeline import run_solve
from tests.helpers import excluded_of, plan_of, sku, solve_case, write_case


def _solve(scenario: Path, out: Path) -> Result:
    return CliRunner().invoke(main, ["solve", str(scenario), "-o", str(out), "-q"])


@pytest.mark.parametrize(("raised", "said"), [
    (RuntimeError("solver exploded"), "internal error: RuntimeError: solver exploded"),
    (KeyboardInterrupt(), "interrupted; nothing written"),
])
def test_internal_error_and_ctrl_c_exit_1_write_nothing(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        raised: BaseException,
                                                        said: str) -> None:
    """The failure comes from inside the pipeline (the solver call), after the inputs were read
    and the output folder checked: exit 1, the one-line message, no traceback, no folder."""
    def broken(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(pipeline, "solve", broken)
    scenario = write_case(tmp_path / "case", [sku()])
    out = tmp_path / "out"
    result = _solve(scenario, out)
    assert result.exit_code == 1, result.output
    assert said in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()


def _generated(tmp_path: Path, skus: int, limit: float, gmv_scale: float = 1.0) -> Path:
    """A generated catalogue (its scenario has a gmv_min, so the empty plan is no plan), the
    GMV target scaled by `gmv_scale`."""
    scenario = generate(skus, None, 1, tmp_path / "g")
    text = scenario.read_text(encoding="utf-8").replace("time_limit_s: 60",
                                                        f"time_limit_s: {limit}")
    target = re.search(r"^  gmv_min: (\d+)$", text, re.M)
    assert target is not None
    text = text.replace(target.group(0), f"  gmv_min: {round(int(target.group(1)) * gmv_scale)}")
    scenario.write_text(text, encoding="utf-8")
    return scenario


def test_no_plan_in_time_exits_4(tmp_path: Path) -> None:
    """3,000 SKUs and 0.01 s: no plan meeting gmv_min is found in time. Exit 4, an empty
    plan.csv and summary.json saying NO_SOLUTION (audited: only GMV_MIN may be missed). The
    target is 3 % above the generator's: since it counts only 1688 trades, the generator's
    target is met by the first rounding, within the first step."""
    out = tmp_path / "out"
    result = _solve(_generated(tmp_path, 3000, 0.01, gmv_scale=1.03), out)
    assert result.exit_code == 4, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "NO_SOLUTION"
    assert (out / "plan.csv").read_text(encoding="utf-8").count("\n") == 1  # the header only


def test_a_tiny_time_limit_still_ends_with_an_answer(tmp_path: Path) -> None:
    """SPEC 2.1 solver.time_limit_s on a 3,000-SKU catalogue at 0.1 s: the solve ends with an
    audited plan or NO_SOLUTION, never an error. (How far past the limit it ends is measured,
    not asserted: timed assertions flake on a shared machine. 1.4 s measured on the 2-core
    machine; README, Known limits.)"""
    scenario = _generated(tmp_path, 3000, 0.1)
    outcome = run_solve(scenario, tmp_path / "out")  # audited by the suite's hook
    assert outcome.result.status in ("OPTIMAL", "FEASIBLE", "NO_SOLUTION"), outcome.text


def test_yaml_list_in_a_scenario_is_honoured(tmp_path: Path) -> None:
    """`programs.offsite.exclusive_with: [huopin, yanxuan]` (a YAML list, written in block
    style) replaces the rulebook's list: a SKU that would be in offsite and yanxuan is now in
    only one, the other pair says EXCLUSIVE; without the override it is in both."""
    rows = [sku(market_price="12.00", min_price_30d="9.00", elasticity="0.5")]
    free = write_case(tmp_path / "free", rows, programs={"offsite": {}, "yanxuan": {}})
    _, plan, _ = solve_case(free)
    assert set(plan_of(plan)) == {("S1", "offsite"), ("S1", "yanxuan")}
    listed = write_case(tmp_path / "listed", rows, programs={
        "offsite": {"exclusive_with": ["huopin", "yanxuan"]}, "yanxuan": {}})
    assert "exclusive_with:\n    - huopin\n    - yanxuan\n" in listed.read_text(encoding="utf-8")
    _, plan, excluded = solve_case(listed)
    [(sku_id, k)] = plan_of(plan)
    assert sku_id == "S1"
    other = "yanxuan" if k == "offsite" else "offsite"
    line = excluded_of(excluded)[("S1", other)]
    assert line["reason"] == "EXCLUSIVE" and f"is in {k}" in line["detail"], line
