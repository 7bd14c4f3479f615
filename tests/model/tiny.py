"""Tiny hand-built `Problem`/`Candidates` for unit tests of the CP-SAT rule builders.

The builders in `optimizer.model.cpsat` read a handful of the problem's arrays (pairs, offers,
eligibility, hub patterns, stock, limits) and the candidates' per-price figures (units, margin,
discount, revenue). A test here writes those figures by hand, so the expected optimum or the
expected verdict on a fixed plan is plain arithmetic in the test, independent of pricing and
scoring. Problem fields that no builder reads (prices, costs, demand) get neutral placeholders.

`tiny(...)` returns a *bare* `EnrollModel`: variables and pair structure as `build_model` sets
them up, no rule yet; the test then adds the rule(s) it tests. `solve` / `assert_feasible` /
`assert_infeasible` follow the cpsat-primer's AssertModelFeasible / AssertModelInfeasible:
feasibility tests fix as much of the plan as they can, infeasibility tests as little.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from ortools.sat.python import cp_model

from optimizer.model.cpsat import EnrollModel
from optimizer.score.candidates import Candidates
from optimizer.score.problem import Problem

PROGRAMS = ("offsite", "yanxuan", "huopin")
OFFSITE, YANXUAN, HUOPIN = "offsite", "yanxuan", "huopin"
UNLIMITED = 1e9  # stock that never binds


@dataclass(frozen=True)
class C:
    """One candidate price of SKU `sku` in program `prog`, with its figures (fen, units).

    `hub` is the fee variant's pattern, one entry per hub program of the problem: 1 the fee
    assumes the SKU is in that hub program, 0 that it is not, -1 (or `()`: all -1) either.
    Candidates of one (sku, prog, hub) form one pair-variant; several variants of one
    (sku, prog) form one pair.
    """

    sku: int
    prog: str
    margin: float = 1.0
    units: float = 1.0
    discount: float = 0.0
    revenue: float = 0.0
    hub: tuple[int, ...] = ()


def tiny(cands: Sequence[C], *, programs: Sequence[str] = PROGRAMS,
         offers: Sequence[int] | None = None, n_skus: int | None = None,
         offer_level: Iterable[str] = (), exclusive: Iterable[tuple[str, str]] = (),
         hub: Sequence[str] = (), also_eligible: Iterable[tuple[int, str]] = (),
         avail: Sequence[float] | None = None, max_skus: Mapping[str, int] | None = None,
         budget: float | None = None, gmv_min: float | None = None) -> EnrollModel:
    """A bare EnrollModel over `cands`, listed in model order (by SKU, then program, then
    variant; one variant's candidates together). Candidate i of the list is `em.x[i]`.

    SKU s is in offer `offers[s]` (default: each SKU its own offer) and eligible for every
    program it has a candidate in, plus `also_eligible` (an eligible SKU left without any
    candidate price, as pruning or the fee variants can leave it). `avail` is each SKU's
    stock less the reserve (default: never binds).
    """
    programs = tuple(programs)
    prog_of = {p: k for k, p in enumerate(programs)}
    hub_idx = tuple(prog_of[h] for h in hub)
    n = n_skus if n_skus is not None else (max((c.sku for c in cands), default=-1) + 1)
    sku_offer = np.array(offers if offers is not None else range(n), np.int64)
    assert sku_offer.shape == (n,), "one offer per SKU"

    keys: list[tuple[int, int, tuple[int, ...]]] = []
    pv_of_cand: list[int] = []
    for c in cands:
        pattern = c.hub or (-1,) * len(hub_idx)
        assert len(pattern) == len(hub_idx), f"{c}: one hub entry per hub program {hub}"
        key = (c.sku, prog_of[c.prog], pattern)
        if not keys or keys[-1] != key:
            assert key not in keys, f"{c}: a variant's candidates must be listed together"
            assert not keys or keys[-1][:2] <= key[:2], f"{c}: list by SKU, then program"
            keys.append(key)
        pv_of_cand.append(len(keys) - 1)

    m, k_count = len(keys), len(programs)
    eligible = np.zeros((n, k_count), bool)
    for s, k, _ in keys:
        eligible[s, k] = True
    for s, p in also_eligible:
        eligible[s, prog_of[p]] = True
    variants = sorted({pattern for _, _, pattern in keys})
    zeros_n = np.zeros((n, k_count), np.int64)
    ones_m = np.ones(m, np.int64)
    limits = np.full(k_count, -1, np.int64)
    for p, limit in (max_skus or {}).items():
        limits[prog_of[p]] = limit
    pb = Problem(
        programs=programs,
        offer_level=np.array([p in set(offer_level) for p in programs], bool),
        exclusive=tuple((prog_of[a], prog_of[b]) for a, b in exclusive),
        hub=hub_idx,
        step=1,
        sku_id=np.array([f"S{s + 1}" for s in range(n)]),
        offer_id=np.array([f"O{o + 1}" for o in sku_offer]),
        sku_offer=sku_offer,
        n_offers=int(sku_offer.max(initial=-1)) + 1,
        avail=np.array(avail if avail is not None else [UNLIMITED] * n, np.float64),
        eligible=eligible,
        force=np.zeros((n, k_count), bool), keep_cell=np.zeros((n, k_count), bool),
        hi=zeros_n + 1000, cap_which=zeros_n - 1, lo_alone=zeros_n + 1,
        pv_sku=np.array([s for s, _, _ in keys], np.int64),
        pv_prog=np.array([k for _, k, _ in keys], np.int64),
        pv_hub=np.array([pattern for _, _, pattern in keys], np.int8).reshape(m, len(hub_idx)),
        pv_fee=np.zeros(m),
        pv_var=np.array([variants.index(pattern) for _, _, pattern in keys], np.int64),
        fee_rates=tuple(Fraction(0) for _ in variants),
        pv_lo=ones_m, pv_hi=ones_m * 1000, pv_cost=ones_m, pv_market=ones_m * 1000,
        pv_demand=np.ones(m), pv_elast=np.full(m, 2.0), pv_counts=np.ones(m),
        pv_keep_price=np.zeros(m, np.int64), pv_full=np.ones(m), pv_mode=np.zeros(m, np.int8),
        max_skus=limits, budget=budget, gmv_min=gmv_min,
    )
    pv = np.array(pv_of_cand, np.int64)
    # distinct increasing prices within a pair-variant, as build_candidates sorts them
    price = np.arange(len(cands), dtype=np.int64) + 1
    cand = Candidates(pv=pv, price=price,
                      units=np.array([c.units for c in cands], np.float64),
                      margin=np.array([c.margin for c in cands], np.float64),
                      discount=np.array([c.discount for c in cands], np.float64),
                      revenue=np.array([c.revenue for c in cands], np.float64),
                      complete=True)
    return bare_model(pb, cand)


def bare_model(pb: Problem, cand: Candidates) -> EnrollModel:
    """Variables and pair structure exactly as `build_model` sets them up, before any rule.

    (`build_model` does not expose this step; test_bare_model_matches_build_model keeps the two
    in step.)
    """
    em = EnrollModel(pb, cand)
    em.x = [em.model.new_bool_var(f"x{i}") for i in range(cand.size)]
    pair_key = pb.pv_sku[cand.pv] * len(pb.programs) + pb.pv_prog[cand.pv]
    starts = (np.flatnonzero(np.r_[True, pair_key[1:] != pair_key[:-1]]) if cand.size
              else np.zeros(0, np.int64))
    em.pair_start = np.append(starts, cand.size).astype(np.int64)
    em.pair_sku = pb.pv_sku[cand.pv[starts]]
    em.pair_prog = pb.pv_prog[cand.pv[starts]]
    return em


@dataclass(frozen=True)
class Solved:
    status: str  # CP-SAT's status name
    chosen: frozenset[int]  # candidate indices set to 1
    objective: float  # fen: the model's objective over its scale (0 without an objective)

    @property
    def feasible(self) -> bool:
        return self.status in ("OPTIMAL", "FEASIBLE")


def solve(em: EnrollModel, fix: Mapping[int, bool] | None = None) -> Solved:
    """Solve to optimality (one worker, seed 0: reproducible) with candidates `fix`ed, on a
    copy of the model, so that one model can be asked about several plans."""
    model = em.model.clone()
    for i, value in (fix or {}).items():
        model.add(model.get_bool_var_from_proto_index(em.x[i].index) == int(value))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = 20.0
    status = solver.solve(model)
    name = solver.status_name(status)
    assert name in ("OPTIMAL", "INFEASIBLE"), f"tiny model not solved to the end: {name}"
    if name != "OPTIMAL":
        return Solved(name, frozenset(), 0.0)
    chosen = frozenset(i for i, x in enumerate(em.x) if solver.boolean_value(x))
    objective = solver.objective_value / em.obj_scale if model.has_objective() else 0.0
    return Solved(name, chosen, objective)


def assert_feasible(em: EnrollModel, fix: Mapping[int, bool] | None = None) -> Solved:
    solved = solve(em, fix)
    assert solved.feasible, f"expected a feasible model with {fix}, got {solved.status}"
    for i, value in (fix or {}).items():
        assert (i in solved.chosen) == value
    return solved


def assert_infeasible(em: EnrollModel, fix: Mapping[int, bool] | None = None) -> None:
    solved = solve(em, fix)
    assert solved.status == "INFEASIBLE", (
        f"expected the rule to refuse {fix}, but CP-SAT found {sorted(solved.chosen)}")


def n_constraints(em: EnrollModel) -> int:
    """Constraints in the model so far (a rule that cannot bind should add none)."""
    return len(em.model.proto.constraints)


def only(em: EnrollModel, *chosen: int) -> dict[int, bool]:
    """A whole plan to fix: the candidates `chosen` in, every other one out."""
    return {i: i in chosen for i in range(len(em.x))}
