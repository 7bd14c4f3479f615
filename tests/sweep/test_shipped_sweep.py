"""The README's first sweep, on the shipped example: a proven plan at every point, and a margin
that never rises with the fee (issue 13: at 3 % there was no plan at all, the other points ended
FEASIBLE with gaps up to 2.35 %, and the objective rose from 3.5 % to 4 %)."""

from __future__ import annotations

import shutil
from itertools import pairwise
from pathlib import Path

from tests.helpers import audited_sweep

ROOT = Path(__file__).resolve().parents[2]
BAGS = ROOT / "scenarios" / "packaging-bags" / "scenario.yaml"


def test_offsite_commission_sweep_is_proven_and_monotone(tmp_path: Path) -> None:
    """Every point's plan is written and audited against its own scenario (audited_sweep, which
    writes the points' scenarios beside the base one: so a copy, never the shipped folder)."""
    case = tmp_path / "bags"
    shutil.copytree(BAGS.parent, case)
    outcome = audited_sweep(case / BAGS.name,
                            ["programs.offsite.fees.help_sell_commission=0:0.05:11"],
                            tmp_path / "out")
    assert [p.status for p in outcome.points] == ["OPTIMAL"] * 11, outcome.text
    assert all(p.gap is not None and p.gap <= 1e-4 for p in outcome.points)
    objectives = [p.objective for p in outcome.points]
    assert all(o is not None for o in objectives)
    assert all(a >= b for a, b in pairwise(objectives)), objectives
