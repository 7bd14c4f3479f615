"""Baseline solvers for the side-by-side: the textbook ladder model, in CP-SAT and in HiGHS.

Both baselines solve the same model: one Boolean per candidate price, the candidates being
`build_candidates(pb, [], ladder_points=20, complete_limit=0)` (the margin-optimal price of each
SKU x program x fee variant plus a 20-point geometric ladder, dominated prices pruned), with every
rule exactly as `optimizer.model.cpsat.build_model` writes it: one price per pair, fee variants,
all-or-none offers, exclusivity, stock, max_skus, discount budget, GMV target, and the same
integer coefficients (rounded against the plan).

- `naive-cpsat` builds the model with `optimizer.model.cpsat.build_model` and hands it to CP-SAT.
- `highs` builds the same rows from the `Candidates` arrays with the code below (`HighsRows`) and
  hands them to HiGHS through highspy. highspy and ortools 9.15 cannot share a process
  (google/or-tools#5246), so this path never imports ortools: it only uses optimizer.load,
  optimizer.rules and optimizer.score, none of which imports ortools (checked at run time).

Each solver runs in its own process (the harness measures its peak RSS) and writes one JSON record:
status, objective (recomputed exactly from the candidates of the plan, yuan), its own bound (valid
for the ladder only, not over every fen price), a trace of (seconds, incumbent, own bound) and an
independent check of the plan against every rule (`violations`, empty when the plan is valid).
Time is measured from the start of loading the scenario (after the imports), as enroll-opt's
phases are.

    python benchmarks/baselines.py highs scenario.yaml --time-limit 60 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.load import load_catalogue, load_scenario
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.candidates import Candidates, build_candidates
from optimizer.score.problem import Problem, build_problem

LADDER_POINTS = 20
TOL = 1e-9  # relative tolerance of the rule check (float sums of exact per-candidate values)
WATCHDOG_GRACE = 15.0  # seconds past the time limit before a solver that did not stop is ended


def load_problem(scenario_path: Path) -> tuple[Any, Problem]:
    """The scenario and its Problem, exactly as the pipeline builds them (no ortools)."""
    scenario, source = load_scenario(scenario_path)
    catalogue = load_catalogue(source.file.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    outcome = evaluate_rules(rulebook, scenario.merchant, catalogue)
    return scenario, build_problem(scenario, rulebook, catalogue, outcome)


def ladder_candidates(pb: Problem, points: int = LADDER_POINTS) -> Candidates:
    return build_candidates(pb, [], ladder_points=points, complete_limit=0)


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


# --------------------------------------------------------------------------------------------
# Pair structure shared by both models (same definitions as optimizer.model.cpsat.build_model)


@dataclass
class Pairs:
    """Candidates grouped per (SKU, program): candidates pair_start[p]:pair_start[p+1]."""

    start: np.ndarray
    sku: np.ndarray
    prog: np.ndarray

    @classmethod
    def of(cls, pb: Problem, cand: Candidates) -> Pairs:
        pair_key = pb.pv_sku[cand.pv] * len(pb.programs) + pb.pv_prog[cand.pv]
        starts = (np.flatnonzero(np.r_[True, pair_key[1:] != pair_key[:-1]]) if cand.size
                  else np.zeros(0, np.int64))
        return cls(np.append(starts, cand.size).astype(np.int64), pb.pv_sku[cand.pv[starts]],
                   pb.pv_prog[cand.pv[starts]])

    def __len__(self) -> int:
        return int(self.sku.shape[0])

    def cols(self, p: int) -> np.ndarray:
        return np.arange(self.start[p], self.start[p + 1], dtype=np.int64)

    def index(self) -> dict[tuple[int, int], int]:
        return {(int(s), int(k)): i for i, (s, k) in enumerate(zip(self.sku, self.prog,
                                                                    strict=True))}

    def offer_pairs(self, pb: Problem, k: int) -> dict[int, list[int]]:
        offers: dict[int, list[int]] = {}
        for p in np.flatnonzero(self.prog == k):
            offers.setdefault(int(pb.sku_offer[self.sku[p]]), []).append(int(p))
        return offers


def _scale(values: np.ndarray, limit: float = 2.0**52) -> float:
    """Same as optimizer.model.cpsat._scale (copied: that module imports ortools)."""
    total = float(np.abs(values).sum()) if values.size else 0.0
    if total <= 0:
        return 1.0
    return float(10 ** min(4, math.floor(math.log10(limit / total))))


# --------------------------------------------------------------------------------------------
# The HiGHS model: the rows of optimizer.model.cpsat, rule by rule, as sparse arrays


@dataclass
class HighsRows:
    """Columns: the candidates, then auxiliary Booleans (offer in program, for exclusivity).
    Rows: lower <= sum(value * x[index]) <= upper, in the same units as the CP-SAT rows divided
    by their scale (the integer coefficients are kept; dividing by a power of ten keeps HiGHS's
    matrix in natural units: units of stock, yuan)."""

    pb: Problem
    cand: Candidates
    pairs: Pairs
    n_aux: int = 0
    index: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    n_rows: dict[str, int] = field(default_factory=dict)

    def add(self, index: np.ndarray, value: np.ndarray | float, lower: float,
            upper: float) -> None:
        index = np.asarray(index, np.int64)
        self.index.append(index)
        self.value.append(np.broadcast_to(np.asarray(value, np.float64), index.shape))
        self.lower.append(lower)
        self.upper.append(upper)

    def new_aux(self) -> int:
        self.n_aux += 1
        return self.cand.size + self.n_aux - 1

    @property
    def n_cols(self) -> int:
        return self.cand.size + self.n_aux

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = np.array([i.size for i in self.index], np.int64)
        starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int32) if lengths.size else \
            np.zeros(0, np.int32)
        index = (np.concatenate(self.index) if self.index else np.zeros(0)).astype(np.int32)
        value = (np.concatenate(self.value) if self.value else np.zeros(0)).astype(np.float64)
        return starts, index, value


INF = math.inf


def h_one_price_per_pair(m: HighsRows) -> None:
    count = 0
    for p in range(len(m.pairs)):
        if m.pairs.start[p + 1] - m.pairs.start[p] > 1:
            m.add(m.pairs.cols(p), 1.0, -INF, 1.0)
            count += 1
    m.n_rows["one_price"] = count


def h_fee_variants(m: HighsRows) -> None:
    pb, cand = m.pb, m.cand
    if not pb.hub:
        return
    index = m.pairs.index()
    pv_first = np.searchsorted(cand.pv, np.arange(pb.m))
    pv_last = np.searchsorted(cand.pv, np.arange(pb.m), side="right")
    count = 0
    for pv in np.flatnonzero((pb.pv_hub >= 0).any(axis=1)):
        lo, hi = pv_first[pv], pv_last[pv]
        if lo == hi:
            continue
        s = int(pb.pv_sku[pv])
        chosen = np.arange(lo, hi, dtype=np.int64)
        for h_i, h in enumerate(pb.hub):
            bit = int(pb.pv_hub[pv, h_i])
            if bit < 0 or h == pb.pv_prog[pv]:
                continue
            hub_pair = index.get((s, h))
            if bit == 1:
                if hub_pair is None:  # chosen == 0
                    m.add(chosen, 1.0, 0.0, 0.0)
                else:  # chosen <= in hub
                    hub = m.pairs.cols(hub_pair)
                    m.add(np.r_[chosen, hub], np.r_[np.ones(chosen.size), -np.ones(hub.size)],
                          -INF, 0.0)
            elif hub_pair is not None:  # chosen + in hub <= 1
                m.add(np.r_[chosen, m.pairs.cols(hub_pair)], 1.0, -INF, 1.0)
            count += 1
    m.n_rows["fee_variants"] = count


def h_all_or_none(m: HighsRows) -> None:
    pb = m.pb
    count = 0
    for k in np.flatnonzero(pb.offer_level):
        eligible_offers = np.bincount(pb.sku_offer[pb.eligible[:, k]], minlength=pb.n_offers)
        for offer, pairs in m.pairs.offer_pairs(pb, int(k)).items():
            if len(pairs) < eligible_offers[offer]:
                for p in pairs:
                    m.add(m.pairs.cols(p), 1.0, 0.0, 0.0)
                    count += 1
                continue
            first = m.pairs.cols(pairs[0])
            for p in pairs[1:]:
                cols = m.pairs.cols(p)
                m.add(np.r_[cols, first], np.r_[np.ones(cols.size), -np.ones(first.size)],
                      0.0, 0.0)
                count += 1
    m.n_rows["all_or_none"] = count


def h_exclusivity(m: HighsRows) -> None:
    pb = m.pb
    count = 0
    for a, b in pb.exclusive:
        pairs_a, pairs_b = m.pairs.offer_pairs(pb, a), m.pairs.offer_pairs(pb, b)
        for offer in sorted(set(pairs_a) & set(pairs_b)):
            flag_cols: list[np.ndarray] = []
            for k, pairs in ((a, pairs_a[offer]), (b, pairs_b[offer])):
                if pb.offer_level[k] or len(pairs) == 1:
                    flag_cols.append(m.pairs.cols(pairs[0]))
                else:
                    w = m.new_aux()
                    for p in pairs:  # pair <= w
                        cols = m.pairs.cols(p)
                        m.add(np.r_[cols, w], np.r_[np.ones(cols.size), -1.0], -INF, 0.0)
                    flag_cols.append(np.array([w], np.int64))
            m.add(np.concatenate(flag_cols), 1.0, -INF, 1.0)
            count += 1
    m.n_rows["exclusive"] = count


def h_stock(m: HighsRows) -> None:
    pb, cand, pairs = m.pb, m.cand, m.pairs
    sku = pb.pv_sku[cand.pv]
    per_pair_max = np.zeros(len(pairs))
    pair_of = np.repeat(np.arange(len(pairs)), np.diff(pairs.start))
    np.maximum.at(per_pair_max, pair_of, cand.units)
    need = np.bincount(pairs.sku, per_pair_max, minlength=pb.n)
    scale = _scale(np.maximum(need, pb.avail), 2.0**40)
    count = 0
    starts = np.searchsorted(sku, np.arange(pb.n))
    ends = np.searchsorted(sku, np.arange(pb.n), side="right")
    for s in np.flatnonzero(need > pb.avail):
        lo, hi = starts[s], ends[s]
        coefs = np.ceil(cand.units[lo:hi] * scale)
        m.add(np.arange(lo, hi), coefs / scale, -INF, math.floor(pb.avail[s] * scale) / scale)
        count += 1
    m.n_rows["stock"] = count


def h_max_skus(m: HighsRows) -> None:
    for k in np.flatnonzero(m.pb.max_skus >= 0):
        sel = np.flatnonzero(m.pb.pv_prog[m.cand.pv] == k)
        limit = int(m.pb.max_skus[k])
        if sel.size > limit:
            m.add(sel, 1.0, -INF, float(limit))
            m.n_rows[f"max_skus_{m.pb.programs[k]}"] = 1


def h_discount_budget(m: HighsRows) -> None:
    pb, cand = m.pb, m.cand
    if pb.budget is None:
        return
    budget = pb.budget
    if cand.discount.clip(min=0).sum() <= budget:
        return
    scale = _scale(np.append(np.abs(cand.discount), abs(budget)))
    coefs = np.ceil(cand.discount * scale)
    m.add(np.arange(cand.size), coefs / (scale * 100), -INF,
          math.floor(budget * scale) / (scale * 100))
    m.n_rows["discount_budget"] = 1


def h_gmv_min(m: HighsRows) -> None:
    pb, cand = m.pb, m.cand
    if pb.gmv_min is None or pb.gmv_min <= 0:
        return
    need = pb.gmv_min
    gmv = cand.revenue * pb.pv_counts[cand.pv]  # only programs counting toward the target
    scale = _scale(np.append(gmv, need))
    coefs = np.floor(gmv * scale)
    m.add(np.arange(cand.size), coefs / (scale * 100), math.ceil(need * scale) / (scale * 100),
          INF)
    m.n_rows["gmv_min"] = 1


H_RULES: tuple[Callable[[HighsRows], None], ...] = (
    h_one_price_per_pair, h_fee_variants, h_all_or_none, h_exclusivity, h_stock, h_max_skus,
    h_discount_budget, h_gmv_min)


def build_highs_rows(pb: Problem, cand: Candidates) -> HighsRows:
    m = HighsRows(pb, cand, Pairs.of(pb, cand))
    for rule in H_RULES:
        rule(m)
    return m


# --------------------------------------------------------------------------------------------
# An independent check of a plan against the rules (semantics, not the model's rows)


def check_plan(pb: Problem, cand: Candidates, chosen: np.ndarray) -> list[str]:
    """Every rule broken by the plan `chosen` (bool per candidate); empty when it is valid."""
    bad: list[str] = []
    pv = cand.pv[chosen]
    sku, prog = pb.pv_sku[pv], pb.pv_prog[pv]
    k_count = len(pb.programs)
    enrolled = np.zeros((pb.n, k_count), np.int64)
    np.add.at(enrolled, (sku, prog), 1)
    if (enrolled > 1).any():
        bad.append(f"one price per pair: {int((enrolled > 1).sum())} pairs with several")
    inside = enrolled > 0
    for h_i, h in enumerate(pb.hub):
        bits = pb.pv_hub[pv, h_i]
        wrong = (bits >= 0) & (prog != h) & (inside[sku, h] != (bits == 1))
        if wrong.any():
            bad.append(f"fee variant vs hub {pb.programs[h]}: {int(wrong.sum())} enrollments")
    for k in np.flatnonzero(pb.offer_level):
        offers_in = np.zeros(pb.n_offers, bool)
        offers_in[pb.sku_offer[inside[:, k]]] = True
        missing = pb.eligible[:, k] & ~inside[:, k] & offers_in[pb.sku_offer]
        if missing.any():
            bad.append(f"all or none in {pb.programs[k]}: {int(missing.sum())} SKUs left out")
    for a, b in pb.exclusive:
        in_a = np.zeros(pb.n_offers, bool)
        in_b = np.zeros(pb.n_offers, bool)
        in_a[pb.sku_offer[inside[:, a]]] = True
        in_b[pb.sku_offer[inside[:, b]]] = True
        if (in_a & in_b).any():
            bad.append(f"exclusive {pb.programs[a]}/{pb.programs[b]}: "
                       f"{int((in_a & in_b).sum())} offers in both")
    units = np.bincount(sku, cand.units[chosen], minlength=pb.n)
    over = units > pb.avail * (1 + TOL) + TOL
    if over.any():
        bad.append(f"stock: {int(over.sum())} SKUs over their available units")
    for k in np.flatnonzero(pb.max_skus >= 0):
        if inside[:, k].sum() > pb.max_skus[k]:
            bad.append(f"max_skus {pb.programs[k]}: {int(inside[:, k].sum())} > "
                       f"{int(pb.max_skus[k])}")
    if pb.budget is not None:
        disc = float(cand.discount[chosen].sum())
        if disc > pb.budget + TOL * max(abs(pb.budget), 1.0):
            bad.append(f"discount budget: {disc / 100:,.2f} > {pb.budget / 100:,.2f}")
    if pb.gmv_min is not None and pb.gmv_min > 0:
        rev = float((cand.revenue * pb.pv_counts[cand.pv])[chosen].sum())
        if rev < pb.gmv_min - TOL * pb.gmv_min:
            bad.append(f"gmv_min: {rev / 100:,.2f} < {pb.gmv_min / 100:,.2f}")
    return bad


# --------------------------------------------------------------------------------------------
# The two solver runs


@dataclass
class Run:
    solver: str
    t0: float
    trace: list[dict[str, float | None]] = field(default_factory=list)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def point(self, objective: float | None, bound: float | None) -> None:
        self.trace.append({"t": round(self.now(), 4),
                           "objective": None if objective is None else float(objective),
                           "bound": None if bound is None or not math.isfinite(bound)
                           else float(bound)})


def _finish(run: Run, pb: Problem, cand: Candidates, chosen: np.ndarray | None, status: str,
            raw_status: str, bound: float | None, extra: dict[str, Any]) -> dict[str, Any]:
    objective = None if chosen is None else float(cand.margin[chosen].sum()) / 100
    violations = [] if chosen is None else check_plan(pb, cand, chosen)
    if bound is not None and not math.isfinite(bound):
        bound = None
    gap = None
    if objective is not None and bound is not None:
        gap = max(bound - objective, 0.0) / max(abs(objective), 1.0)
    return {"solver": run.solver, "status": status, "raw_status": raw_status,
            "objective": objective, "bound": bound, "bound_valid_for": "ladder candidates only",
            "own_gap": gap, "seconds": round(run.now(), 3), "trace": run.trace,
            "violations": violations, "skus": pb.n, "offers": pb.n_offers,
            "pair_variants": pb.m, "candidates": cand.size, "peak_rss_mb": peak_rss_mb(),
            **extra}


def run_naive_cpsat(scenario_path: Path, time_limit: float, ladder: int, rel_gap: float | None,
                    workers: int | None, seed: int | None, solve_only: bool = False
                    ) -> dict[str, Any]:
    from ortools.sat.python import cp_model

    from optimizer.model.cpsat import build_model

    run = Run("naive-cpsat", time.perf_counter())
    scenario, pb = load_problem(scenario_path)
    load_s = run.now()
    cand = ladder_candidates(pb, ladder)
    em = build_model(pb, cand)
    model_s = run.now() - load_s
    scale = em.obj_scale * 100  # model objective units per yuan

    class Incumbents(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            run.point(self.objective_value / scale, self.best_objective_bound / scale)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = (time_limit if solve_only
                                             else max(time_limit - run.now(), 1.0))
    solver.parameters.num_workers = workers if workers is not None else scenario.solver.workers
    solver.parameters.random_seed = seed if seed is not None else scenario.solver.seed
    solver.parameters.relative_gap_limit = (rel_gap if rel_gap is not None
                                            else scenario.solver.relative_gap)
    solver.best_bound_callback = lambda b: run.point(None, b / scale)
    status = solver.solve(em.model, Incumbents())
    raw = solver.status_name(status)
    chosen = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = np.array([solver.boolean_value(x) for x in em.x], bool)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound: float | None = solver.best_objective_bound / scale
    else:  # without a plan, CP-SAT's final bound is only meaningful if it reported one
        reported = [p["bound"] for p in run.trace if p["bound"] is not None]
        bound = min(reported) if reported and status != cp_model.INFEASIBLE else None
    mapped = {"OPTIMAL": "OPTIMAL", "FEASIBLE": "FEASIBLE", "INFEASIBLE": "INFEASIBLE"}
    result = _finish(run, pb, cand, chosen, mapped.get(raw, "NO_SOLUTION"), raw, bound,
                     {"load_seconds": round(load_s, 3), "model_seconds": round(model_s, 3),
                      "variables": len(em.model.proto.variables),
                      "rows": len(em.model.proto.constraints), "n_rows": em.n_rows,
                      "time_limit_s": time_limit, "solve_only": solve_only})
    if chosen is not None and result["objective"] is not None:
        run.point(result["objective"], bound)
        result["trace"] = run.trace
    return result


def run_highs(scenario_path: Path, time_limit: float, ladder: int, rel_gap: float | None,
              workers: int | None, seed: int | None, solve_only: bool = False,
              emit: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """HiGHS on the ladder model. HiGHS does not check its time limit everywhere (on the 10k and
    20k ladder models it went on for minutes after presolve with a 30-60 s limit; upstream
    ERGO-Code/HiGHS#885, #2226): a watchdog thread (HiGHS releases the GIL while it runs) emits
    the record from the last incumbent at time_limit + WATCHDOG_GRACE and ends the process."""
    if any(name.split(".")[0] == "ortools" for name in sys.modules):
        raise RuntimeError("ortools was imported: highspy cannot share its process "
                           "(google/or-tools#5246)")
    import highspy

    run = Run("highs", time.perf_counter())
    scenario, pb = load_problem(scenario_path)
    load_s = run.now()
    cand = ladder_candidates(pb, ladder)
    rows = build_highs_rows(pb, cand)
    h = highspy.Highs()
    h.setOptionValue("output_flag", True)
    h.setOptionValue("log_to_console", True)  # the harness keeps it in <solver>.log
    n = rows.n_cols
    costs = np.zeros(n)
    costs[:cand.size] = cand.margin / 100
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), costs)
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                            np.full(n, highspy.HighsVarType.kInteger))
    starts, index, value = rows.csr()
    h.addRows(len(rows.lower), np.array(rows.lower), np.array(rows.upper), index.size, starts,
              index, value)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    model_s = run.now() - load_s
    solve_limit = time_limit if solve_only else max(time_limit - run.now(), 1.0)
    deadline = run.now() + solve_limit + WATCHDOG_GRACE
    h.setOptionValue("time_limit", solve_limit)
    h.setOptionValue("mip_rel_gap", rel_gap if rel_gap is not None
                     else scenario.solver.relative_gap)
    h.setOptionValue("random_seed", seed if seed is not None else scenario.solver.seed)
    h.setOptionValue("threads", workers if workers is not None else scenario.solver.workers)

    last_plan: list[np.ndarray] = []

    def improving(e: Any) -> None:
        run.point(e.data_out.objective_function_value, e.data_out.mip_dual_bound)
        sol = np.asarray(e.data_out.mip_solution)
        if sol.size >= cand.size:
            last_plan[:] = [sol[:cand.size] > 0.5]

    last_log = [-1.0]

    def logging(e: Any) -> None:
        # the MIP log line: record the bound (and incumbent) at most twice a second
        if run.now() - last_log[0] >= 0.5:
            last_log[0] = run.now()
            primal = e.data_out.mip_primal_bound
            run.point(primal if math.isfinite(primal) and abs(primal) < 1e30 else None,
                      e.data_out.mip_dual_bound)

    extra = {"load_seconds": round(load_s, 3), "model_seconds": round(model_s, 3),
             "variables": n, "rows": len(rows.lower), "n_rows": rows.n_rows,
             "time_limit_s": time_limit, "solve_only": solve_only,
             "highspy_version": h.version()}
    finished = threading.Event()

    def watchdog() -> None:
        if finished.wait(max(deadline - run.now(), 0.0)) or emit is None:
            return
        plan = last_plan[0] if last_plan else None
        bounds = [p["bound"] for p in run.trace if p["bound"] is not None]
        raw = f"did not stop at its time limit; ended by the watchdog at {run.now():.0f} s"
        emit(_finish(run, pb, cand, plan, "NO_SOLUTION" if plan is None else "FEASIBLE", raw,
                     min(bounds) if bounds else None,
                     {**extra, "stopped_by_watchdog": True, "highs_objective": None,
                      "mip_nodes": None}))
        sys.stdout.flush()
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    h.cbMipImprovingSolution.subscribe(improving)
    h.cbMipLogging.subscribe(logging)
    h.run()
    finished.set()
    ms = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    chosen = None
    if has_solution:
        chosen = np.asarray(h.getSolution().col_value)[:cand.size] > 0.5
    raw = h.modelStatusToString(ms)
    if ms == highspy.HighsModelStatus.kOptimal:
        status = "OPTIMAL"
    elif ms == highspy.HighsModelStatus.kInfeasible:
        status = "INFEASIBLE"
    else:
        status = "FEASIBLE" if has_solution else "NO_SOLUTION"
    bound = float(info.mip_dual_bound) if status != "INFEASIBLE" else None
    if bound is not None and abs(bound) >= 1e30:
        bound = None
    result = _finish(run, pb, cand, chosen, status, raw, bound,
                     {**extra, "stopped_by_watchdog": False,
                      "highs_objective": float(info.objective_function_value)
                      if has_solution else None, "mip_nodes": int(info.mip_node_count)})
    if chosen is not None and result["objective"] is not None:
        run.point(result["objective"], bound)
        result["trace"] = run.trace
    return result


SOLVERS = ("highs", "naive-cpsat")


def main(argv: list[str] | None = None) -> None:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("solver", choices=SOLVERS)
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--time-limit", type=float, default=60.0,
                    help="seconds from the start of loading (model building included)")
    ap.add_argument("--solve-only", action="store_true",
                    help="the time limit is for the solver alone (model building not counted)")
    ap.add_argument("--ladder", type=int, default=LADDER_POINTS, help="ladder points per pv")
    ap.add_argument("--rel-gap", type=float, default=None,
                    help="stop at this relative gap (default: the scenario's relative_gap)")
    ap.add_argument("--workers", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--seed", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--json", type=Path, default=None, help="write the record here")
    a = ap.parse_args(argv)

    def emit(result: dict[str, Any]) -> None:
        text = json.dumps(result, indent=1)
        if a.json is not None:
            a.json.write_text(text + "\n", encoding="utf-8")
        else:
            print(text)

    if a.solver == "highs":
        emit(run_highs(a.scenario, a.time_limit, a.ladder, a.rel_gap, a.workers, a.seed,
                       a.solve_only, emit))
    else:
        emit(run_naive_cpsat(a.scenario, a.time_limit, a.ladder, a.rel_gap, a.workers, a.seed,
                             a.solve_only))


if __name__ == "__main__":
    main()
