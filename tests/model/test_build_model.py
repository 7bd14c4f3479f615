"""`build_model` as a whole: every rule composed, on real scenarios, audited and brute-forced.

The solver normally reaches `build_model` only after its LP phases, which enforce some rules
themselves, so a rule missing from the CP-SAT model can go unnoticed in the end-to-end tests
(removing add_exclusivity from RULES survived all but one property example). Here the model is
solved alone over the complete candidate lattice of a tiny scenario: its optimum must be the
brute force's (tests/reference/brute.py), and its plan must pass the independent auditor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ortools.sat.python import cp_model

from optimizer.audit import audit_rows
from optimizer.load import load_catalogue, load_scenario
from optimizer.model.cpsat import build_model
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.candidates import build_candidates
from optimizer.score.problem import Problem, build_problem
from tests.helpers import Row, close_to, sku, write_case
from tests.model.tiny import HUOPIN, OFFSITE, YANXUAN, C, bare_model, tiny
from tests.reference.brute import brute_force_optimum

SMALL = {"market_price": "5.00", "min_price_30d": "5.00", "unit_cost": "1.00"}


def test_bare_model_matches_build_model() -> None:
    """tiny.bare_model sets up variables and pairs as build_model does (the unit tests of
    the rule builders stand on it)."""
    made = tiny([C(0, OFFSITE, hub=(0,)), C(0, OFFSITE, hub=(1,)), C(0, YANXUAN),
                 C(1, HUOPIN), C(1, HUOPIN), C(2, OFFSITE, hub=(0,))],
                offers=[0, 0, 1], hub=(YANXUAN,), offer_level=[HUOPIN])
    full = build_model(made.pb, made.cand)
    bare = bare_model(made.pb, made.cand)
    assert len(full.x) == len(bare.x) == 6
    for name in ("pair_start", "pair_sku", "pair_prog"):
        assert np.array_equal(getattr(full, name), getattr(bare, name)), name
    assert bare.pair_start.tolist() == [0, 2, 3, 5, 6]


def problem_of(scenario: Path) -> Problem:
    """load -> rulebook -> rules -> problem, as the pipeline does."""
    sc, source = load_scenario(scenario)
    catalogue = load_catalogue(source.file.parent / sc.catalogue)
    rulebook = build_rulebook(sc, source)
    return build_problem(sc, rulebook, catalogue, evaluate_rules(rulebook, sc.merchant, catalogue))


def model_alone(scenario: Path) -> tuple[str, float, list[Row]]:
    """Solve build_model over every lattice price: status, objective (yuan), plan rows printed
    from the candidates' own figures (so the auditor also checks the scoring)."""
    pb = problem_of(scenario)
    cand = build_candidates(pb, [])
    assert cand.complete
    em = build_model(pb, cand)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = 20.0
    status = solver.status_name(solver.solve(em.model))
    assert status in ("OPTIMAL", "INFEASIBLE"), status
    if status == "INFEASIBLE":
        return status, 0.0, []
    rows = []
    chosen = [i for i, x in enumerate(em.x) if solver.boolean_value(x)]
    for i in chosen:
        pv = int(cand.pv[i])
        s, k = int(pb.pv_sku[pv]), int(pb.pv_prog[pv])
        price, units, fee = int(cand.price[i]), float(cand.units[i]), float(pb.pv_fee[pv])
        rows.append({
            "sku_id": str(pb.sku_id[s]), "offer_id": str(pb.offer_id[s]),
            "program": pb.programs[k], "price": f"{price / 100:.2f}", "units": f"{units:.3f}",
            "revenue": f"{cand.revenue[i] / 100:.2f}", "fee_rate": f"{fee:.10g}",
            "fees": f"{units * price * fee / 100:.2f}", "margin": f"{cand.margin[i] / 100:.2f}",
        })
    return status, float(cand.margin[chosen].sum()) / 100, rows


def assert_model_alone_is_optimal(scenario: Path) -> list[Row]:
    """The model's plan is clean for the auditor and its objective is the brute force's."""
    status, objective, rows = model_alone(scenario)
    report = audit_rows(scenario, rows)
    brute = brute_force_optimum(scenario)
    if brute is None:
        assert status == "INFEASIBLE"
        assert report.codes() <= {"GMV_MIN"}, report.format()
        return rows
    assert status == "OPTIMAL"
    assert not report.violations, report.format()
    assert close_to(report.objective, objective), (report.objective, objective)
    assert close_to(objective, brute[0]), (objective, brute)
    return rows


def case(tmp_path: Path, name: str, rows: list[dict[str, Any]], **overrides: Any) -> Path:
    return write_case(tmp_path / name, rows, price_step=0.5, **overrides)


@pytest.mark.parametrize("big_huopin", [False, True])
def test_exclusive_offer_level(tmp_path: Path, big_huopin: bool) -> None:
    """O1 = {S1 (offsite or huopin), S2 (huopin only: no dropship)}, O2 = {S3}: O1 goes whole
    to one of the two programs. Fails if add_exclusivity is left out of RULES (O1 then sells
    S1 in offsite and S2 in huopin: the auditor's EXCLUSIVE, and above the brute force)."""
    rows = [sku(offer_id="O1", daily_units=10, **SMALL),
            sku(offer_id="O1", daily_units=40 if big_huopin else 1, dropship="false", **SMALL),
            sku(offer_id="O2", daily_units=10, **SMALL)]
    path = case(tmp_path, "ex", rows, programs={OFFSITE: {}, HUOPIN: {}})
    plan = assert_model_alone_is_optimal(path)
    o1 = {r["program"] for r in plan if r["offer_id"] == "O1"}
    assert o1 == ({HUOPIN} if big_huopin else {OFFSITE})


def test_all_or_none_with_fee_variants(tmp_path: Path) -> None:
    """S2 alone would stay out of yanxuan (its offsite orders would pay the commission), but
    all or none takes it in with S1 (tests/test_rules.py's fee interplay case): every fee
    variant row and the all-or-none rows at once."""
    base = {"market_price": "5.00", "min_price_30d": "5.00", "elasticity": "0.5"}
    rows = [sku(offer_id="O1", unit_cost="1.00", **base),
            sku(offer_id="O1", unit_cost="3.75", **base)]
    plan = assert_model_alone_is_optimal(case(tmp_path, "aon", rows,
                                              programs={OFFSITE: {}, YANXUAN: {}}))
    assert {(r["sku_id"], r["program"]) for r in plan} == {
        (s, k) for s in ("S1", "S2") for k in (OFFSITE, YANXUAN)}


def test_stock_shared_by_programs(tmp_path: Path) -> None:
    """Stock 400 less 5 days x 10 units = 350 units for offsite and yanxuan together."""
    row = sku(stock=400, **SMALL)
    plan = assert_model_alone_is_optimal(case(tmp_path, "stock", [row],
                                              programs={OFFSITE: {}, YANXUAN: {}},
                                              constraints={"stock_reserve_days": 5}))
    assert sum(float(r["units"]) for r in plan) <= 350 + 0.0005


@pytest.mark.parametrize("program", [OFFSITE, HUOPIN])
def test_max_skus(tmp_path: Path, program: str) -> None:
    """One slot: per SKU (offsite) the best SKU takes it; per offer (huopin) the two-SKU offer
    O1 cannot, so O2's single SKU does."""
    rows = [sku(offer_id=o, daily_units=d, **SMALL) for o, d in (("O1", 20), ("O1", 20), ("O2", 2))]
    plan = assert_model_alone_is_optimal(case(tmp_path, "max", rows, programs={program: {}},
                                              constraints={"max_skus": {program: 1}}))
    assert len(plan) == 1
    if program == HUOPIN:
        assert plan[0]["sku_id"] == "S3"


@pytest.mark.parametrize("budget", [150, 40, 0])
def test_discount_budget(tmp_path: Path, budget: int) -> None:
    """Three SKUs in offsite and yanxuan under a shrinking discount budget (yuan)."""
    rows = [sku(daily_units=d, **SMALL) for d in (3, 1, 2)]
    assert_model_alone_is_optimal(case(tmp_path, "budget", rows,
                                       programs={OFFSITE: {}, YANXUAN: {}},
                                       constraints={"discount_budget": budget}))


@pytest.mark.parametrize("share", [1.2, 100])
def test_gmv_min(tmp_path: Path, share: float) -> None:
    """A GMV target 1.2 x the free optimum's (met at a lower margin), and one far out of
    reach (INFEASIBLE, as for the brute force)."""
    rows = [sku(daily_units=d, **SMALL) for d in (3, 1, 2)]
    programs: dict[str, dict[str, Any]] = {OFFSITE: {}, YANXUAN: {}}
    free = assert_model_alone_is_optimal(case(tmp_path, "free", rows, programs=programs))
    target = round(sum(float(r["revenue"]) for r in free) * share)
    path = case(tmp_path, "gmv", rows, programs=programs, constraints={"gmv_min": target})
    plan = assert_model_alone_is_optimal(path)
    if share > 1.5:
        assert brute_force_optimum(path) is None and plan == []
    else:
        assert sum(float(r["revenue"]) for r in plan) >= target - 0.005 * len(plan)
