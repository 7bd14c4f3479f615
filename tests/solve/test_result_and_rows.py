"""The solve package's face: statuses that stay strings, statistics that keep summary.json's order,
the global rows' layout and limits, and the one CP-SAT runner."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from ortools.sat.python import cp_model

from optimizer.load import load_catalogue, load_scenario
from optimizer.load.types import SolverConfig
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.problem import build_problem
from optimizer.score.rows import GlobalRows
from optimizer.solve import FEASIBLE, INFEASIBLE, NO_SOLUTION, OPTIMAL, SolveStats, Status
from optimizer.solve.runner import Clock, run_cpsat

ROOT = Path(__file__).resolve().parents[2]


def test_status_is_its_string_everywhere_it_is_read() -> None:
    assert tuple(Status) == (OPTIMAL, FEASIBLE, INFEASIBLE, NO_SOLUTION)
    assert OPTIMAL == "OPTIMAL" and NO_SOLUTION == "NO_SOLUTION"
    assert json.dumps({"status": FEASIBLE}) == '{"status": "FEASIBLE"}'
    assert f"{INFEASIBLE}: x" == "INFEASIBLE: x" and str(OPTIMAL) == "OPTIMAL"
    codes: dict[str, int] = {OPTIMAL: 0}
    assert codes["OPTIMAL"] == 0  # exit codes keyed either way


def test_stats_list_what_was_set_in_the_order_it_was_first_set() -> None:
    stats = SolveStats(pair_variants=7, lagrangian_bound=1.5, cg_rounds=2, cg_seconds=0.1)
    stats.complete = True
    stats.dive_seconds = 0.2
    stats.add_model_seconds(0.25)
    stats.add_model_seconds(0.25)
    stats.focused_rows = {"one_price": 3, "stock": 1}
    stats.lagrangian_bound = 1.25  # updated: keeps its place
    assert stats.as_dict() == {"pair_variants": 7, "lagrangian_bound": 1.25, "cg_rounds": 2,
                               "cg_seconds": 0.1, "complete": 1, "dive_seconds": 0.2,
                               "model_seconds": 0.5, "focused_rows_one_price": 3,
                               "focused_rows_stock": 1}
    assert list(stats.as_dict()) == ["pair_variants", "lagrangian_bound", "cg_rounds",
                                     "cg_seconds", "complete", "dive_seconds", "model_seconds",
                                     "focused_rows_one_price", "focused_rows_stock"]
    assert isinstance(stats.as_dict()["complete"], int) and stats.core_seconds is None
    assert SolveStats().as_dict() == {}


def _rows(gmv: float | None = 500.0) -> GlobalRows:
    return GlobalRows(("a", "b", "c"), np.array([2, -1, 0], np.int64), 1000.0, gmv)


def test_global_rows_layout_names_and_limits() -> None:
    rows = _rows()
    assert (rows.discount, rows.revenue, rows.width) == (3, 4, 5)
    assert rows.capped.tolist() == [0, 2]
    assert rows.names() == ["max_skus.a", "max_skus.c", "discount_budget", "gmv_min"]
    entry, sign, limit = rows.as_leq()
    assert entry.tolist() == [0, 2, 3, 4]
    assert sign.tolist() == [1.0, 1.0, 1.0, -1.0]  # the GMV target is a >= row
    assert limit.tolist() == [2.0, 0.0, 1000.0, -500.0]
    no_gmv = _rows(gmv=0.0)  # a zero target binds nothing
    assert not no_gmv.has_gmv and no_gmv.names()[-1] == "discount_budget"
    assert no_gmv.as_leq()[0].tolist() == [0, 2, 3]


def test_global_rows_fit_a_hair_inside_the_money_limits() -> None:
    rows = _rows()
    inside = np.array([2.0, 9.0, 0.0, 999.0, 501.0])
    assert rows.fits(inside)
    for entry, value in ((0, 3.0), (2, 1.0), (3, 1000.0), (4, 500.0)):
        broken = inside.copy()
        broken[entry] = value
        assert not rows.fits(broken), (entry, value)
    assert rows.fits(np.array([0.0, 10**6, 0.0, 0.0, 500.0 * (1 + 1e-11)]))


def test_usage_counts_skus_per_program_and_sums_discount_and_revenue() -> None:
    path = ROOT / "scenarios" / "packaging-bags" / "scenario.yaml"
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(path.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    pb = build_problem(scenario, rulebook, catalogue,
                       evaluate_rules(rulebook, scenario.merchant, catalogue))
    rows = GlobalRows.of(pb)
    pv = np.arange(0, pb.m, 3)
    price = pb.pv_hi[pv]
    group = (np.arange(pv.size) % 2).astype(np.int64)
    ev = pb.evaluate(pv, price)
    usage = rows.usage(pb, pv, group, 2, ev)
    assert usage.shape == (2, len(pb.programs) + 2)
    for g in (0, 1):
        mine = group == g
        assert usage[g, : len(pb.programs)].tolist() == np.bincount(
            pb.pv_prog[pv[mine]], minlength=len(pb.programs)).tolist()
        assert np.isclose(usage[g, rows.discount], ev["discount"][mine].sum())
        # the GMV entry: only programs whose orders are 1688 trades (SPEC 3: not AliExpress)
        counts = np.array([pb.programs[k] != "aliexpress_semi" for k in pb.pv_prog[pv]])
        assert (mine & ~counts).any() and ev["revenue"][mine & ~counts].sum() > 0
        assert np.isclose(usage[g, rows.revenue], ev["revenue"][mine & counts].sum())


def test_runner_decodes_the_plan_and_stops_at_the_target() -> None:
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(4)]
    model.add(x[0] + x[1] <= 1)
    model.maximize(3 * x[0] + 2 * x[1] + x[2] + x[3])
    clock = Clock(SolverConfig.model_validate({}), time.perf_counter())
    run = run_cpsat(model, x, clock, 1.0, hint=np.array([False, True, False, False]),
                    partial_hint=True)
    assert run.found and not run.infeasible
    assert run.chosen.tolist() == [True, False, True, True] and run.bound == 5
    early = run_cpsat(model, x, clock, 1.0, stop_at=1.0)  # any plan worth 1 will do
    assert early.found and 3 * early.chosen[0] + 2 * early.chosen[1] + early.chosen[2:].sum() >= 1
    model.add(x[2] + x[3] >= 3)  # now impossible
    failed = run_cpsat(model, x, clock, 1.0)
    assert failed.infeasible and not failed.found and failed.chosen.size == 0
