"""Candidate prices (optimizer/score/candidates.py) against exhaustive enumeration of the lattice.

peak_price is the hot loop of the Lagrangian pricing: a wrong peak is a wrong bound, and the
tiny solved cases (whose lattices are small enough to be enumerated whole) barely exercise it.
Here every function is checked against every lattice price of a small problem, for the margin
objective and for Lagrangian-like (alpha, beta) pairs, regular and not (inelastic demand,
non-positive alpha or beta). Written to kill the mutants benchmarks/mutation.sh found surviving.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from optimizer.load import load_catalogue, load_scenario
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score import candidates as cand_module
from optimizer.score.candidates import (
    active_dims,
    build_candidates,
    full_lattice,
    ladder,
    lattice_size,
    margin_optimal_price,
    peak_price,
)
from optimizer.score.problem import Problem, build_problem
from tests.helpers import sku, write_case

ROWS = [
    sku(market_price="12.00", min_price_30d="11.00", unit_cost="3.00", elasticity="2.5"),
    sku(market_price="9.00", min_price_30d="8.50", unit_cost="0.00", elasticity="1.5"),
    sku(market_price="20.00", min_price_30d="19.00", unit_cost="9.00", elasticity="0.6"),
    sku(market_price="5.00", min_price_30d="4.80", unit_cost="1.20", elasticity="1.0",
        stock=200, daily_units=40),
    # aliexpress_semi only (8 % fee: its lowest margin-keeping price 9.20 / 0.92 is the market
    # price, so it gives nothing away even at its lowest price)
    sku(market_price="10.00", min_price_30d="9.90", unit_cost="9.20", elasticity="2.0"),
]


def problem(tmp_path: Path, **overrides: object) -> Problem:
    path = write_case(tmp_path / "case", ROWS, price_step=0.05, **overrides)
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(path.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    return build_problem(scenario, rulebook, catalogue,
                         evaluate_rules(rulebook, scenario.merchant, catalogue))


@pytest.fixture
def pb(tmp_path: Path) -> Problem:
    return problem(tmp_path)


def lattice(pb: Problem, v: int) -> np.ndarray:
    return np.arange(pb.pv_lo[v], pb.pv_hi[v] + 1, pb.step)


def units(pb: Problem, v: int, price: np.ndarray) -> np.ndarray:
    """SPEC 4 demand, written out: units at market price times (p / market)^-e."""
    return pb.pv_demand[v] * (price / pb.pv_market[v]) ** (-pb.pv_elast[v])


# (1.0, 133.0) and (0.01, 1.0) put the peak e beta / ((e-1) alpha) inside S2's lattice
# (e = 1.5: 399 and 300 fen), so the closed form itself decides there, not the clipping.
ALPHA_BETA = [(0.944, 300.0), (0.7, 0.0), (0.5, 900.0), (1.0, -50.0), (0.0, 100.0),
              (-0.2, 100.0), (0.994, 1e-3), (2.0, 5000.0), (1.0, 133.0), (0.01, 1.0)]


@pytest.mark.parametrize(("alpha", "beta"), ALPHA_BETA)
def test_peak_price_is_the_best_lattice_price(pb: Problem, alpha: float, beta: float) -> None:
    """For every pair-variant: the value is the lattice maximum of u(p) (alpha p - beta), the
    price attains it and the units are the price's."""
    assert pb.m >= 8
    price, value, got_units = peak_price(pb, alpha, beta)
    assert price.dtype == np.int64  # prices are whole fen
    interior = 0
    for v in range(pb.m):
        p = lattice(pb, v)
        vals = units(pb, v, p) * (alpha * p - beta)
        best = vals.max()
        assert pb.pv_lo[v] <= price[v] <= pb.pv_hi[v] and price[v] % pb.step == 0
        assert value[v] == pytest.approx(best, rel=1e-12, abs=1e-9), (v, price[v], p[vals.argmax()])
        interior += int(p[0] < p[vals.argmax()] < p[-1])
        at = units(pb, v, np.array([price[v]]))[0]
        assert value[v] == pytest.approx(at * (alpha * price[v] - beta), rel=1e-12, abs=1e-9)
        assert got_units[v] == pytest.approx(at, rel=1e-12)
    if (alpha, beta) in ((1.0, 133.0), (0.01, 1.0)):
        assert interior, "no pair-variant has its best price inside its lattice"


def test_peak_price_per_row_alpha_beta_and_a_subset(pb: Problem) -> None:
    """Arrays of alpha and beta, one per row, on a subset of rows (pv=...): row by row the same
    as the scalar call on that row."""
    rows = np.arange(pb.m)[::2]
    alpha = np.linspace(0.5, 1.0, rows.size)
    beta = np.linspace(0.0, 800.0, rows.size)
    price, value, _ = peak_price(pb, alpha, beta, pv=rows)
    for i, v in enumerate(rows):
        p = lattice(pb, v)
        vals = units(pb, v, p) * (alpha[i] * p - beta[i])
        assert value[i] == pytest.approx(vals.max(), rel=1e-12, abs=1e-9)
        assert price[i] in p


def test_peak_price_threads_give_the_same_bits(pb: Problem,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    one = peak_price(pb, 0.9, 200.0)
    monkeypatch.setattr(cand_module, "PARALLEL_MIN", 1)
    monkeypatch.setattr(cand_module, "_POOLS", {})  # no pool left by an earlier test
    for threads in (2, 3):
        many = peak_price(pb, 0.9, 200.0, threads=threads)
        for a, b in zip(one, many, strict=True):
            assert a.tobytes() == b.tobytes()


def test_margin_optimal_price_is_the_margin_argmax(pb: Problem) -> None:
    best = margin_optimal_price(pb)
    for v in range(pb.m):
        p = lattice(pb, v)
        margin = units(pb, v, p) * (p * (1 - pb.pv_fee[v]) - pb.pv_cost[v])
        got = units(pb, v, np.array([best[v]]))[0] * (best[v] * (1 - pb.pv_fee[v])
                                                      - pb.pv_cost[v])
        assert got == pytest.approx(margin.max(), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("points", [1, 2, 6])
def test_ladder_spreads_lattice_prices_geometrically(pb: Problem, points: int) -> None:
    pv, price = ladder(pb, points)
    assert pv.size == price.size == pb.m * points
    assert list(pv) == [v for v in range(pb.m) for _ in range(points)]
    grid = price.reshape(pb.m, points)
    for v in range(pb.m):
        lo, hi = int(pb.pv_lo[v]), int(pb.pv_hi[v])
        assert all(lo <= p <= hi and p % pb.step == 0 for p in grid[v])
        assert grid[v][0] == lo
        if points > 1:
            assert grid[v][-1] == hi
            assert list(grid[v]) == sorted(grid[v])
            t = np.linspace(0.0, 1.0, points)
            ideal = lo * (hi / lo) ** t
            assert np.all(np.abs(grid[v] - ideal) <= pb.step / 2 + 1e-9)


def test_ladder_of_no_points_is_empty(pb: Problem) -> None:
    for points in (0, -1):
        pv, price = ladder(pb, points)
        assert pv.size == 0 and price.size == 0


def test_full_lattice_has_every_price_once(pb: Problem) -> None:
    pv, price = full_lattice(pb)
    assert lattice_size(pb) == pv.size
    expected = [(v, int(p)) for v in range(pb.m) for p in lattice(pb, v)]
    assert list(zip(pv.tolist(), price.tolist(), strict=True)) == expected


def test_active_dims(tmp_path: Path) -> None:
    """Stock binds for a SKU whose units at its lowest prices, summed over its programs, exceed
    its stock, and only then; the budget binds when the give-away at the lowest prices exceeds it,
    GMV when a positive target is set."""
    pb = problem(tmp_path)
    stock, budget, gmv = active_dims(pb)
    for s in range(pb.n):  # the most units each program could sell it (at its lowest price)
        most = {}
        for v in np.flatnonzero(pb.pv_sku == s):
            u = units(pb, v, np.array([pb.pv_lo[v]]))[0]
            most[pb.pv_prog[v]] = max(most.get(pb.pv_prog[v], 0.0), u)
        assert stock[s] == (sum(most.values()) > pb.avail[s]), pb.sku_id[s]
    assert stock.any() and not stock.all()
    assert (budget, gmv) == (False, False)
    tight = problem(tmp_path / "tight", constraints={"discount_budget": 1, "gmv_min": 1})
    assert active_dims(tight)[1:] == (True, True)
    loose = problem(tmp_path / "loose", constraints={"discount_budget": 10**9, "gmv_min": 0})
    assert active_dims(loose)[1:] == (False, False)


@pytest.mark.parametrize("constraints", [{}, {"discount_budget": 1}, {"gmv_min": 1}])
def test_build_candidates_keeps_exactly_the_undominated(tmp_path: Path,
                                                         constraints: dict[str, int]) -> None:
    """Complete (small lattice): a lattice price is dropped iff the margin-optimal price of its
    pair-variant has at least its margin and is no worse on each resource that can bind."""
    pb = problem(tmp_path, constraints=constraints)
    c = build_candidates(pb, [])
    assert c.complete
    kept = set(zip(c.pv.tolist(), c.price.tolist(), strict=True))
    stock, budget, gmv = active_dims(pb)
    best = margin_optimal_price(pb)
    for v in range(pb.m):
        p = lattice(pb, v)
        u = units(pb, v, p)
        margin = u * (p * (1 - pb.pv_fee[v]) - pb.pv_cost[v])
        disc, rev = u * (pb.pv_market[v] - p), u * p
        b = int(np.flatnonzero(p == best[v])[0])
        # SPEC 3: AliExpress orders are not 1688 trades, so their revenue never helps gmv_min
        counts = pb.programs[pb.pv_prog[v]] != "aliexpress_semi"

        def above(a: float, b: float) -> bool:  # clearly, beyond float noise (e = 1 ties)
            return bool(a > b + 1e-9 * max(abs(a), abs(b), 1.0))

        for i, price in enumerate(p.tolist()):
            dims = [(u[b], u[i]) if stock[pb.pv_sku[v]] else None,
                    (disc[b], disc[i]) if budget else None,
                    (rev[i], rev[b]) if gmv and counts else None,
                    (margin[i], margin[b])]
            better = any(d is not None and above(*d) for d in dims)
            tie = any(d is not None and not above(*d) and not above(d[1], d[0]) for d in dims)
            if price == best[v] or better:
                assert (v, price) in kept, (v, price)
            elif not tie:  # clearly dominated by the margin optimum
                assert (v, price) not in kept, (v, price)
    for i, (v, price) in enumerate(zip(c.pv.tolist(), c.price.tolist(), strict=True)):
        u = units(pb, v, np.array([price]))[0]
        assert c.units[i] == pytest.approx(u, rel=1e-12)
        assert c.margin[i] == pytest.approx(u * (price * (1 - pb.pv_fee[v]) - pb.pv_cost[v]),
                                            rel=1e-12, abs=1e-9)
        assert c.revenue[i] == pytest.approx(u * price, rel=1e-12)
        assert c.discount[i] == pytest.approx(u * (pb.pv_market[v] - price), rel=1e-12, abs=1e-9)
        i += 1


def test_build_candidates_incomplete_uses_the_ladder_and_hints(tmp_path: Path) -> None:
    """Over the complete limit: the candidates are the margin optimum, the ladder, every
    suggestion and every `extra` hint (clipped to [lo, hi]), less the dominated; a suggestion
    at hi and a hint at lo are there exactly when something in them beats the margin optimum
    (budget and GMV both bind: less give-away or more revenue counts, the revenue of a program
    counting toward the GMV target)."""
    pb = problem(tmp_path, constraints={"discount_budget": 1, "gmv_min": 1})
    hint = np.full(pb.m, 10**9)  # clipped to hi
    extra = (np.arange(pb.m), np.zeros(pb.m, np.int64))  # clipped to lo
    c = build_candidates(pb, [hint], ladder_points=3, complete_limit=0, extra=extra)
    assert not c.complete
    kept = set(zip(c.pv.tolist(), c.price.tolist(), strict=True))
    best = margin_optimal_price(pb)
    stock = active_dims(pb)[0]
    lad_pv, lad_price = ladder(pb, 3)
    offered = set(zip(lad_pv.tolist(), lad_price.tolist(), strict=True))
    for v in range(pb.m):
        assert (v, int(best[v])) in kept
        offered |= {(v, int(pb.pv_hi[v])), (v, int(pb.pv_lo[v])), (v, int(best[v]))}
        b = units(pb, v, np.array([best[v]]))[0]
        for end in (int(pb.pv_lo[v]), int(pb.pv_hi[v])):
            u = units(pb, v, np.array([end]))[0]
            beats = ((stock[pb.pv_sku[v]] and u < b * (1 - 1e-9))
                     or u * (pb.pv_market[v] - end) < b * (pb.pv_market[v] - best[v]) - 1e-6
                     or (pb.programs[pb.pv_prog[v]] != "aliexpress_semi"  # GMV counts
                         and u * end > b * best[v] + 1e-6))
            if beats or end == best[v]:
                assert (v, end) in kept, (v, end)
    assert kept <= offered


def test_ladder_of_a_single_pair_variant(tmp_path: Path) -> None:
    """One SKU in one program: still a ladder (a guard for an empty problem must not take it)."""
    path = write_case(tmp_path / "one", ROWS[:1], price_step=0.05,
                      programs={"aliexpress_semi": {}})
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(path.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    pb = build_problem(scenario, rulebook, catalogue,
                       evaluate_rules(rulebook, scenario.merchant, catalogue))
    assert pb.m == 1
    pv, price = ladder(pb, 3)
    assert list(pv) == [0, 0, 0] and price[0] == pb.pv_lo[0] and price[-1] == pb.pv_hi[0]


def _resource_at_lowest(pb: Problem, per_pv: np.ndarray) -> np.ndarray:
    """(n, K): the most of a per-pair-variant quantity over each SKU x program's variants."""
    out = np.zeros((pb.n, len(pb.programs)))
    for v in range(pb.m):
        out[pb.pv_sku[v], pb.pv_prog[v]] = max(out[pb.pv_sku[v], pb.pv_prog[v]], per_pv[v])
    return out


def test_active_dims_at_their_exact_thresholds(pb: Problem) -> None:
    """A resource binds only when the most the plan could use *exceeds* its limit: stock equal to
    the units at the lowest prices does not bind, a hair less does; the same for the budget
    against the most give-away (units x (market - price), nothing for a price at or above
    market); any positive GMV target binds."""
    u_lo = np.array([units(pb, v, np.array([pb.pv_lo[v]]))[0] for v in range(pb.m)])
    most_units = _resource_at_lowest(pb, u_lo).sum(axis=1)
    assert not active_dims(dataclasses.replace(pb, avail=most_units))[0].any()
    assert active_dims(dataclasses.replace(pb, avail=most_units * (1 - 1e-9)))[0].all()
    give = u_lo * np.maximum(pb.pv_market - pb.pv_lo, 0)
    assert (pb.pv_lo >= pb.pv_market).any()  # the aliexpress-only SKU gives nothing away
    most = float(_resource_at_lowest(pb, give).sum())
    assert active_dims(dataclasses.replace(pb, budget=most))[1] is False
    assert active_dims(dataclasses.replace(pb, budget=most * (1 - 1e-9)))[1] is True
    assert active_dims(dataclasses.replace(pb, gmv_min=1.0))[2] is True
    assert active_dims(dataclasses.replace(pb, gmv_min=0.0))[2] is False


def test_build_candidates_complete_at_its_limit(pb: Problem) -> None:
    size = lattice_size(pb)
    assert size == sum(len(lattice(pb, v)) for v in range(pb.m))
    assert build_candidates(pb, [], complete_limit=size).complete
    assert not build_candidates(pb, [], complete_limit=size - 1).complete


def test_build_candidates_clips_hints_into_the_lattice(tmp_path: Path) -> None:
    """Suggestions and `extra` hints below lo or above hi become lo and hi: no candidate price
    is ever outside [lo, hi] (a price under lo breaks the margin rule, over hi a cap), even when
    GMV and the budget bind (a lower price sells more, a higher one gives less away)."""
    pb = problem(tmp_path, constraints={"discount_budget": 1, "gmv_min": 1})
    low = np.maximum(pb.pv_lo - pb.step, 1)
    high = pb.pv_hi + 10**6
    extra = (np.r_[np.arange(pb.m), np.arange(pb.m)], np.r_[low, high])
    for complete_limit in (0, 10**9):
        c = build_candidates(pb, [low, high], ladder_points=3, complete_limit=complete_limit,
                             extra=extra)
        assert np.all(c.price >= pb.pv_lo[c.pv]) and np.all(c.price <= pb.pv_hi[c.pv])
