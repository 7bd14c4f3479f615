"""The CP-SAT rule for today's enrollments (`add_commitments`), on its own: every plan the model
accepts keeps a no_exit row at today's price and keeps a fixed_until_exit offer whole or not at
all; the model's optimum agrees with the brute force. (The per-offer pricing enforces the same
through its offer states; this is the model the candidate phases solve.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ortools.sat.python import cp_model

from optimizer.load import load_catalogue, load_scenario
from optimizer.load.current import Current
from optimizer.model.cpsat import build_model
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.candidates import build_candidates
from optimizer.score.problem import Problem, build_problem
from tests.helpers import sku, write_case
from tests.reference.brute import brute_force_optimum

BASE = {"market_price": "12.00", "min_price_30d": "12.00", "unit_cost": "7.00"}


def _problem(path: Path, rows: list[tuple[int, str, int]]) -> Problem:
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(source.file.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    current = Current(np.array([s for s, _, _ in rows], np.int64),
                      np.array([k for _, k, _ in rows]),
                      np.array([p for _, _, p in rows], np.int64),
                      np.arange(len(rows), dtype=np.int64) + 2)
    return build_problem(scenario, rulebook, catalogue,
                         evaluate_rules(rulebook, scenario.merchant, catalogue), current)


def _every_plan(pb: Problem) -> tuple[list[set[tuple[int, str, int, bool]]], float]:
    """Every plan the model accepts (as (SKU, program, price, continuing) rows) and its optimum
    (yuan)."""
    cand = build_candidates(pb, [])
    assert cand.complete
    em = build_model(pb, cand)
    plans: list[set[tuple[int, str, int, bool]]] = []

    class Collect(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            on = [i for i, x in enumerate(em.x) if self.value(x)]
            plans.append({(int(pb.pv_sku[cand.pv[i]]), pb.programs[int(pb.pv_prog[cand.pv[i]])],
                           int(cand.price[i]),
                           bool(pb.pv_keep_price[cand.pv[i]] == cand.price[i])) for i in on})

    solver = cp_model.CpSolver()
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.num_workers = 1
    model_copy = em.model.clone()
    model_copy.clear_objective()  # every feasible plan, not only the optimal ones
    assert solver.solve(model_copy, Collect()) == cp_model.OPTIMAL
    best = cp_model.CpSolver()
    best.parameters.num_workers = 1
    assert best.solve(em.model) == cp_model.OPTIMAL
    chosen = np.array([best.value(x) for x in em.x], bool)
    return plans, float(cand.margin[chosen].sum()) / 100


def test_a_no_exit_row_is_in_every_plan(tmp_path: Path) -> None:
    path = write_case(tmp_path, [sku(**BASE)], programs={"huopin": {}}, price_step=1)
    pb = _problem(path, [(0, "huopin", 1000)])
    plans, optimum = _every_plan(pb)
    assert plans and all(p == {(0, "huopin", 1000, True)} for p in plans)
    brute = brute_force_optimum(path, [("S1", "huopin", 1000)])
    assert brute is not None and abs(brute[0] - optimum) < 1e-6


def test_a_fixed_offer_is_kept_whole_or_not_at_all(tmp_path: Path) -> None:
    """Offer O1's two off-site rows today (8.00, 9.00; fixed_until_exit), S3 in the same offer
    not enrolled today: a plan keeps both at today's prices and nothing else of O1 in
    off-site, or keeps neither (then any of the three may register anew, 23 days)."""
    rows = [sku(**BASE, offer_id="O1") for _ in range(3)]
    path = write_case(tmp_path, rows, programs={"offsite": {}}, price_step=1)
    today = [(0, "offsite", 800), (1, "offsite", 900)]
    pb = _problem(path, today)
    plans, optimum = _every_plan(pb)
    kept_whole = {(0, "offsite", 800, True), (1, "offsite", 900, True)}
    assert kept_whole in plans
    assert any(p and not any(keep for *_, keep in p) for p in plans)  # re-registered plans too
    for plan in plans:
        kept = {r for r in plan if r[3]}
        assert kept in (set(), kept_whole), plan
        if kept:
            assert plan == kept_whole, plan
    brute = brute_force_optimum(path, [("S1", "offsite", 800), ("S2", "offsite", 900)])
    assert brute is not None and abs(brute[0] - optimum) < 1e-6
