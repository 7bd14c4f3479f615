"""optimizer/score/problem.py: price caps, the margin rule, build_problem and restrict.

Written against the mutants benchmarks/mutation.sh found surviving in problem.py (see
benchmarks/mutation.md): each test says which change of the code it catches.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimizer.load import load_catalogue, load_scenario
from optimizer.load.types import Catalogue
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import Rulebook, build_rulebook
from optimizer.score.fees import fee_table
from optimizer.score.problem import (
    NO_CAP_MULTIPLE,
    Problem,
    build_problem,
    cap_hi,
    lattice_cap,
    margin_lo,
    restrict,
)
from tests.helpers import sku, write_case

INT64_MAX = np.iinfo(np.int64).max


def _inputs(tmp_path: Path, rows: list[dict[str, Any]],
            **overrides: Any) -> tuple[Any, Rulebook, Catalogue]:
    path = write_case(tmp_path / "case", rows, **overrides)
    scenario, source = load_scenario(path)
    return scenario, build_rulebook(scenario, source), load_catalogue(path.parent
                                                                       / scenario.catalogue)


def _problem(tmp_path: Path, rows: list[dict[str, Any]], **overrides: Any) -> Problem:
    scenario, rulebook, catalogue = _inputs(tmp_path, rows, **overrides)
    return build_problem(scenario, rulebook, catalogue,
                         evaluate_rules(rulebook, scenario.merchant, catalogue))


# --- lattice_cap: the overflow guard at its exact threshold -------------------------------------

def test_lattice_cap_guard_is_exact_at_its_threshold() -> None:
    """The guard refuses exactly when (num // den + 1) * max(F, 1) or num * den passes 2**62
    (catches `>` → `>=`, `+ 1` → `+ 2`, `max(F, 1)` → `max(F, 2)`, `or` → `and`, 2**62 changed);
    at the threshold the cap is still exact."""
    f = np.array([2**61], np.int64)
    assert int(lattice_cap(f, Fraction(1), False, 1)[0]) == 2**61  # (1 + 1) * 2**61 == 2**62
    assert int(lattice_cap(f, Fraction(1), True, 1)[0]) == 2**61 - 1
    with pytest.raises(ValueError, match="price cap ratio 1 too large for exact arithmetic"):
        lattice_cap(f + 1, Fraction(1), False, 1)
    one = np.array([1], np.int64)
    big = 2**62 - 1  # (big // 1 + 1) * max(1, 1) == 2**62: allowed on a field of 1
    assert int(lattice_cap(one, Fraction(big), False, 1)[0]) == big
    assert int(lattice_cap(np.array([0], np.int64), Fraction(big), True, 1)[0]) == -1
    with pytest.raises(ValueError, match="too large"):
        lattice_cap(np.array([2], np.int64), Fraction(big), False, 1)
    tiny = Fraction(1, 2**62)  # num * den == 2**62: allowed; 0 < tiny, so the cap is 0
    assert int(lattice_cap(one, tiny, False, 1)[0]) == 0
    assert int(lattice_cap(one, tiny, True, 1)[0]) == 0
    with pytest.raises(ValueError, match="too large"):
        lattice_cap(one, Fraction(1, 2**62 + 1), False, 1)
    with pytest.raises(ValueError, match="too large"):
        lattice_cap(one, Fraction(3, 2**61 + 3), False, 1)  # only num * den passes


def test_lattice_cap_of_no_sku() -> None:
    """An empty column (no SKU) gives an empty cap, not an error (catches `initial=0` dropped)."""
    out = lattice_cap(np.zeros(0, np.int64), Fraction(9, 10), True, 5)
    assert out.shape == (0,) and out.dtype == np.int64


# --- margin_lo: fee + margin rate reaching 100 % ------------------------------------------------

def test_margin_lo_when_fee_and_rate_take_the_whole_price() -> None:
    """1 - fee - rate == 0: p*0 >= cost holds for every p exactly when cost <= 0, so the least
    price is the step for a free item and none (int64 max) otherwise; below 0, none at all
    (catches `q <= 0` → `q < 0`, `q == 0` → `!= 0`, `cost <= 0` → `< 0`, the step and the
    none value changed, the cost taken as float)."""
    cost = np.array([0, 1, 500], np.int64)
    zero = margin_lo(cost, Fraction(3, 10), Fraction(7, 10), 5)
    assert zero.tolist() == [5, INT64_MAX, INT64_MAX]
    below = margin_lo(cost, Fraction(1, 2), Fraction(3, 5), 5)
    assert below.tolist() == [INT64_MAX] * 3
    tiny_q = margin_lo(cost, Fraction(0), Fraction(999, 1000), 5)  # q = 1/1000
    assert tiny_q.tolist() == [5, 1000, 500_000]
    assert zero.dtype == below.dtype == tiny_q.dtype == np.int64  # not float, not object


def test_margin_lo_of_a_free_item_is_one_step() -> None:
    """A cost of 0 keeps the margin rule at any price: the least lattice price is one step, not 0
    (catches `np.maximum(lo, step)` dropped or changed)."""
    assert margin_lo(np.array([0], np.int64), Fraction(8, 100), Fraction(1, 10), 7).tolist() == [7]


# --- cap_hi: which cap binds, and the cap of a program without any -----------------------------

def test_cap_hi_without_caps_stops_at_ten_times_the_market_price(tmp_path: Path) -> None:
    """No cap: hi is NO_CAP_MULTIPLE (10) x the market price on the lattice, and no cap binds
    (catches the multiple changed, and the 'none' index -1 changed)."""
    assert NO_CAP_MULTIPLE == 10
    _, rulebook, cat = _inputs(tmp_path, [sku(market_price="12.34"), sku(market_price="5.00")])
    prog = rulebook.programs["aliexpress_semi"].model_copy(update={"price_caps": {}})
    rb = rulebook.model_copy(update={"programs": {**rulebook.programs, "aliexpress_semi": prog}})
    hi, which = cap_hi(rb, "aliexpress_semi", cat, 5)
    assert hi.tolist() == [12340, 5000] and which.tolist() == [-1, -1]
    assert hi.dtype == np.int64 and which.dtype == np.int64


def test_cap_hi_names_the_first_of_tied_caps(tmp_path: Path) -> None:
    """offsite: price < min_price_30d and price < 0.9 x market. When both give the same lattice
    price the first listed binds; a cap that does not go below 10 x market does not bind
    (catches `bound < hi` → `<=`); step 1 inside, the lattice step only at the end."""
    rows = [sku(market_price="10.00", min_price_30d="9.00"),   # 899 both: the first (30-day)
            sku(market_price="10.00", min_price_30d="9.50"),   # 0.9 x market binds: 899
            sku(market_price="10.00", min_price_30d="8.00"),   # the 30-day rule: 799
            sku(market_price="10.00", min_price_30d="100.00")]  # 9999 vs 899: market
    _, rulebook, cat = _inputs(tmp_path, rows)
    caps = list(rulebook.programs["offsite"].price_caps)
    assert caps == ["min_price_30d", "market_price", "web_min_price"]  # the last one absent
    assert "web_min_price" in cat.absent
    hi, which = cap_hi(rulebook, "offsite", cat, 1)
    assert hi.tolist() == [899, 899, 799, 899] and which.tolist() == [0, 1, 0, 1]
    hi5, which5 = cap_hi(rulebook, "offsite", cat, 5)
    assert hi5.tolist() == [895, 895, 795, 895] and which5.tolist() == which.tolist()
    loose = rulebook.programs["aliexpress_semi"].model_copy(update={"price_caps": {
        "market_price": rulebook.programs["aliexpress_semi"].price_caps["market_price"]
        .model_copy(update={"ratio": NO_CAP_MULTIPLE})}})
    rb = rulebook.model_copy(update={"programs": {**rulebook.programs, "aliexpress_semi": loose}})
    hi, which = cap_hi(rb, "aliexpress_semi", cat, 1)
    assert hi.tolist() == [10000] * 4 and which.tolist() == [-1] * 4  # equal: not tighter


# --- restrict: the sub-problem of some offers ----------------------------------------------------

ROWS = [
    sku(sku_id="S1", offer_id="A", market_price="12.00", min_price_30d="11.00", unit_cost="3.00"),
    sku(sku_id="S2", offer_id="A", market_price="9.00", min_price_30d="8.50", unit_cost="1.00"),
    sku(sku_id="S3", offer_id="B", market_price="20.00", min_price_30d="19.00", unit_cost="9.00",
        stock=150),
    sku(sku_id="S4", offer_id="C", market_price="5.00", min_price_30d="4.80", unit_cost="1.20",
        shipping_cost="0.40"),
    sku(sku_id="S5", offer_id="C", market_price="10.00", min_price_30d="9.90", unit_cost="9.20"),
    sku(sku_id="S6", offer_id="D", market_price="7.00", min_price_30d="6.00", unit_cost="2.00"),
]


def _same(a: Problem, b: Problem) -> None:
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert np.array_equal(x, y), name
        else:
            assert x == y, name


@pytest.mark.parametrize("keep", [["A", "C"], ["B", "D"], ["C"], ["A", "B", "C", "D"]])
def test_restrict_is_the_problem_of_those_offers(tmp_path: Path, keep: list[str]) -> None:
    """restrict(pb, offers) equals the problem built from those offers' rows alone (SKUs
    renumbered, offers renumbered in order, every per-SKU and per-pair-variant array cut),
    with the limits given, not the full problem's; the large path samples through it (never run
    by a test before)."""
    limits = {"discount_budget": 50, "gmv_min": 7}
    full = _problem(tmp_path / "full", ROWS, constraints=limits)
    names = [str(o) for o in np.unique(full.offer_id.astype(str))]
    offers = np.array([names.index(o) for o in keep], np.int64)
    max_skus = np.arange(len(full.programs), dtype=np.int64) + 1
    sub = restrict(full, offers, max_skus=max_skus, budget=12.5, gmv_min=99.0)
    alone = _problem(tmp_path / "alone", [r for r in ROWS if r["offer_id"] in keep],
                     constraints=limits)
    assert sub.m > 0
    _same(sub, alone.__class__(**{**{n: getattr(alone, n) for n in alone.__dataclass_fields__},
                                   "max_skus": max_skus, "budget": 12.5, "gmv_min": 99.0}))
    assert (full.budget, full.gmv_min) == (5000.0, 700.0)  # the limits given replace these


# --- build_problem: every field of a small problem, from the contract ---------------------------

def _lattice_cap(field: int, ratio: Fraction, strict: bool, step: int) -> int:
    """Highest multiple of step p with p < ratio*field (or <=), by counting down: no shortcut."""
    p = int(ratio * field) // step * step + step
    while (p >= ratio * field) if strict else (p > ratio * field):
        p -= step
    return p


def _margin_lo(cost: int, fee: Fraction, rate: Fraction, step: int) -> int:
    p = step
    while p * (1 - fee) - cost < rate * p:
        p += step
    return p


def test_build_problem_every_field(tmp_path: Path) -> None:
    """Each array of a 6-SKU, 4-offer problem against a plain-Python reading of SPEC: caps
    (strict or not, the binding one), the margin rule per fee variant, free shipping in the cost,
    a hub pattern only where the SKU qualifies for the hub program, demand = daily units x
    multiplier x horizon, the limits; dtypes too. Catches, among others, `+ shipping` → `-`,
    `free_shipping` forced either way, `ok & fits` → `|`, `rows &=` → `=`/`|=` (hub and margin
    filters), the hub pattern's 1/0/-1, multiplier / horizon, max_skus' -1, the offer index."""
    rows = [{**r, "elasticity": e} for r, e in zip(ROWS, ["2.5", "1.5", "0.6", "1.0", "2.0",
                                                          "3.0"], strict=True)]
    rows[3] = {**rows[3], "stock": 30, "daily_units": 10}  # 30 - 5 x 10 < 0: nothing available
    rows[5] = {**rows[5], "moq": 3}  # not in yanxuan (moq <= 2), so no offsite pv "in yanxuan"
    constraints = {"max_skus": {"yanxuan": 3}, "discount_budget": 50, "gmv_min": 7,
                   "stock_reserve_days": 5}
    scenario, rulebook, cat = _inputs(tmp_path, rows, price_step=0.05, constraints=constraints)
    outcome = evaluate_rules(rulebook, scenario.merchant, cat)
    pb = build_problem(scenario, rulebook, cat, outcome)
    fees = fee_table(rulebook)  # the fee rates are fees.py's, tested in test_fees.py
    progs = ("offsite", "yanxuan", "huopin", "crossborder", "aliexpress_semi")
    assert pb.programs == progs and fees.hub == ("yanxuan",) and pb.hub == (1,)
    assert pb.offer_level.dtype == bool and pb.offer_level.tolist() == [False, True, True,
                                                                         False, False]
    assert pb.exclusive == ((2, 0),)  # (huopin, offsite), by name
    assert pb.step == 5
    assert pb.sku_id.tolist() == [f"S{i}" for i in range(1, 7)]
    assert pb.offer_id.tolist() == ["A", "A", "B", "C", "C", "D"]
    assert pb.sku_offer.dtype == np.int64 and pb.sku_offer.tolist() == [0, 0, 1, 2, 2, 3]
    assert pb.n_offers == 4
    assert pb.avail.tolist() == [9950.0, 9950.0, 100.0, 0.0, 9950.0, 9950.0]
    assert pb.max_skus.dtype == np.int64 and pb.max_skus.tolist() == [-1, 3, -1, -1, -1]
    assert (pb.budget, pb.gmv_min) == (5000.0, 700.0)

    step, rate = 5, Fraction(0)  # min_unit_margin_rate: the scenario default
    assert Fraction(scenario.constraints.min_unit_margin_rate) == rate
    hi = np.zeros((6, 5), np.int64)
    which = np.full((6, 5), -1, np.int64)
    cost = np.zeros((6, 5), np.int64)
    lo_alone = np.zeros((6, 5), np.int64)
    for s in range(6):
        for j, pid in enumerate(progs):
            prog = rulebook.programs[pid]
            best, binding = 10 * int(cat.market_price[s]), -1
            for i, c in enumerate(prog.price_caps.values()):
                if c.field in cat.absent:  # SPEC 2.2: no web_min_price column, no 全网比价
                    continue
                bound = _lattice_cap(int(cat.column(c.field)[s]), Fraction(c.ratio), c.strict, 1)
                if bound < best:
                    best, binding = bound, i
            hi[s, j], which[s, j] = best // step * step, binding
            cost[s, j] = int(cat.unit_cost[s]) + (int(cat.shipping_cost[s])
                                                  if prog.free_shipping else 0)
            lo_alone[s, j] = _margin_lo(int(cost[s, j]), fees.alone[pid].rate, rate, step)
    assert int(cat.shipping_cost[3]) == 40 and rulebook.programs["offsite"].free_shipping
    assert not rulebook.programs["huopin"].free_shipping
    for name, want in (("hi", hi), ("cap_which", which), ("lo_alone", lo_alone)):
        got = getattr(pb, name)
        assert got.dtype == np.int64 and got.tolist() == want.tolist(), name
    eligible = outcome.ok & (lo_alone <= hi)
    assert pb.eligible.dtype == bool and pb.eligible.tolist() == eligible.tolist()
    assert not outcome.ok[2, 0] and lo_alone[2, 0] <= hi[2, 0]  # rules fail (stock < 200)
    assert outcome.ok[4, 0] and lo_alone[4, 0] > hi[4, 0]  # rules hold, the margin does not
    assert eligible[5, 0] and not outcome.ok[5, 1]

    expected, rates = [], []
    # a new enrollment sells after its review (SPEC 6.1)
    mult = {p: rulebook.programs[p].demand_multiplier * max(rulebook.programs[p].horizon_days
                                                           - rulebook.programs[p].review_days, 0)
            for p in progs}
    for j, pid in enumerate(progs):
        for var in fees.variants[pid]:
            for s in range(6):
                lo = _margin_lo(int(cost[s, j]), var.rate, rate, step)
                inside_ok = var.pattern is None or all(
                    eligible[s, 1] for inside in var.pattern if inside)
                if eligible[s, j] and inside_ok and lo <= hi[s, j]:
                    hub = [-1] if var.pattern is None else [int(b) for b in var.pattern]
                    expected.append((s, j, len(rates), lo, hub))
            rates.append(var.rate)
    expected.sort(key=lambda e: (e[0], e[1], e[2]))
    assert pb.fee_rates == tuple(rates)
    assert any(e[4] == [1] for e in expected) and any(e[4] == [0] for e in expected)
    assert any(e[4] == [-1] for e in expected)
    got = list(zip(pb.pv_sku.tolist(), pb.pv_prog.tolist(), pb.pv_var.tolist(),
                   pb.pv_lo.tolist(), pb.pv_hub.tolist(), strict=True))
    assert got == [tuple(e) for e in expected]
    for name in ("pv_sku", "pv_prog", "pv_var", "pv_lo", "pv_hi", "pv_cost", "pv_market"):
        assert getattr(pb, name).dtype == np.int64, name
    assert pb.pv_hub.dtype == np.int8 and pb.pv_hub.shape == (pb.m, 1)
    for v, (s, j, k, _, _) in enumerate(expected):
        assert pb.pv_fee[v] == float(rates[k])
        assert (pb.pv_hi[v], pb.pv_cost[v]) == (hi[s, j], cost[s, j])
        assert pb.pv_market[v] == cat.market_price[s]
        assert pb.pv_demand[v] == pytest.approx(cat.daily_units[s] * mult[progs[j]], rel=1e-15)
        assert pb.pv_elast[v] == float(rows[s]["elasticity"])
    assert pb.pv_fee.dtype == np.float64 and pb.pv_demand.dtype == np.float64


def test_build_problem_of_no_program(tmp_path: Path) -> None:
    """A scenario may choose no program (`programs: {}`): the problem has no pair-variant, and its
    arrays are empty with their dtypes (catches the empty-parts fallback `np.zeros(0)` changed to
    `np.zeros(1)`/`np.zeros(None)` or skipped for `np.concatenate([])`, which raises, and the
    dtypes of max_skus and offer_level dropped: an empty list makes float64)."""
    pb = _problem(tmp_path, ROWS[:2], programs={})
    assert pb.programs == () and pb.hub == () and pb.m == 0 and pb.n == 2
    assert pb.hi.shape == (2, 0) and not pb.eligible.any()
    for name in ("pv_sku", "pv_prog", "pv_var", "pv_lo", "pv_hi", "pv_cost"):
        arr = getattr(pb, name)
        assert arr.shape == (0,) and arr.dtype == np.int64, name
    assert pb.pv_hub.shape == (0, 0) and pb.pv_hub.dtype == np.int8
    assert pb.fee_rates == () and pb.max_skus.tolist() == [] and pb.offer_level.tolist() == []
    assert pb.max_skus.dtype == np.int64 and pb.offer_level.dtype == bool  # not float64 (empty)


def test_price_step_of_a_whole_yuan(tmp_path: Path) -> None:
    """price_step 1 yuan is a lattice of 100 fen (catches `* 100` → `* 101`, which a step under
    a yuan hides: int(0.05 x 101) is 5 too); every price bound is then a whole yuan. Without an
    elasticity column each pair-variant takes its program's default (catches the NaN test
    dropped)."""
    pb = _problem(tmp_path, ROWS, price_step=1)
    assert pb.step == 100 and pb.m > 0
    assert not (pb.pv_lo % 100).any() and not (pb.pv_hi % 100).any()
    defaults = {"offsite": 2.5, "yanxuan": 1.8, "huopin": 2.0, "crossborder": 2.0,
                "aliexpress_semi": 2.2}
    assert pb.pv_elast.tolist() == [defaults[pb.programs[j]] for j in pb.pv_prog.tolist()]
