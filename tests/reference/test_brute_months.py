"""tests/reference/brute_months.py against figures computed by hand (SPEC 6.3).

The instance (tests/data/two-months): one SKU, market 10 yuan, min_price_30d 9, cost 3, 1 unit a
day, no fees, price step 1 yuan.
  严选: 2 days x 6 = 12 units at market price, elasticity 2: units 1200 / p^2, margin
        1200 (p - 3) / p^2; caps p <= 9.5; review 0.
        p = 6: 100; 7: 97.96; 8: 93.75; 9: 1200 x 6 / 81 = 88.89.
  off-site: 30 days, elasticity 1: units days x 10 / p, margin days x 10 (p - 3) / p; caps
        p < min_price_30d and p < 9; review 7 (a new enrollment sells 23 days).
        new at 8: 230 x 5 / 8 = 143.75; kept at 8: 300 x 5 / 8 = 187.5; new at 5: 230 x 2 / 5 = 92;
        new at 7: 230 x 4 / 7 = 131.43.
Month by month: month 1 alone is 严选 6 + off-site 8 = 243.75; month 2's 30-day minimum is then 6,
so off-site (at 8, fixed until exit) must leave and come back at 5 for 23 days: 100 + 92 = 192;
total 435.75. Together: 严选 9 in month 1 (88.89 + 143.75 = 232.64) keeps the minimum at 9, so
off-site continues at 8 the whole of month 2 (187.5 + 严选 6, 100 = 287.5): 520.14, 84.39 more.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optimizer.cli import main
from tests.reference.brute import brute_force_optimum
from tests.reference.brute_months import (
    month_by_month,
    months_optimum,
    moved_world,
    read_months,
)

CASE = Path(__file__).resolve().parents[1] / "data" / "two-months"
YX = {p: 1200 * (p - 3) / p**2 for p in range(3, 10)}  # 严选 margin at p yuan


def _off(p: int, days: int) -> float:
    return days * 10 * (p - 3) / p


def _variant(tmp_path: Path, **changes: object) -> Path:
    """The two-months scenario with top-level keys changed (None deletes), beside its
    catalogue."""
    raw = yaml.safe_load((CASE / "scenario.yaml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    raw["catalogue"] = str(CASE / "catalogue.csv")
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def test_hand_figures() -> None:
    assert YX[6] == 100 and YX[8] == 93.75 and YX[9] == pytest.approx(88.8889, abs=1e-4)
    assert max(YX, key=lambda p: YX[p]) == 6
    assert (_off(8, 23), _off(8, 30), _off(5, 23)) == (143.75, 187.5, 92.0)


def test_planning_both_months_together_beats_month_by_month() -> None:
    joint = months_optimum(CASE / "scenario.yaml")
    alone = month_by_month(CASE / "scenario.yaml")
    assert joint is not None and alone is not None
    assert alone.margins == pytest.approx((YX[6] + _off(8, 23), YX[6] + _off(5, 23)))
    assert alone.value == pytest.approx(435.75)
    assert alone.rows == ((("S1", "offsite", 800, False), ("S1", "yanxuan", 600, False)),
                          (("S1", "offsite", 500, False), ("S1", "yanxuan", 600, True)))
    assert joint.margins == pytest.approx((YX[9] + _off(8, 23), YX[6] + _off(8, 30)))
    assert joint.value == pytest.approx(520.1389, abs=1e-4)
    assert joint.rows == ((("S1", "offsite", 800, False), ("S1", "yanxuan", 900, False)),
                          (("S1", "offsite", 800, True), ("S1", "yanxuan", 600, False)))
    assert joint.value - alone.value == pytest.approx(84.3889, abs=1e-4)


def test_month_one_alone_is_the_products_own_optimum(tmp_path: Path) -> None:
    """Month 1 of the case without `periods:`: brute.py and `enroll-opt solve` both give 243.75
    (严选 6, off-site 8), the plan month-by-month planning starts from."""
    sc = _variant(tmp_path, periods=None)
    found = brute_force_optimum(sc)
    assert found is not None and found[0] == pytest.approx(243.75)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["solve", str(sc), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    plan = (out / "plan.csv").read_text(encoding="utf-8").splitlines()
    assert sorted(line.split(",")[2:4] for line in plan[1:]) == [["offsite", "8.00"],
                                                                 ["yanxuan", "6.00"]]


@pytest.mark.parametrize("periods", [1, [{"name": "only"}]])
def test_one_month_is_brute_py(tmp_path: Path, periods: object) -> None:
    sc = _variant(tmp_path, periods=periods)
    joint, single = months_optimum(sc), brute_force_optimum(sc)
    assert joint is not None and single is not None
    assert joint.value == pytest.approx(single[0]) == pytest.approx(243.75)
    assert len(joint.rows) == 1


def test_the_30_day_minimum_moves_only_down_and_only_by_sets_min_price(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        months, _ = read_months(CASE / "scenario.yaml", Path(tmp))
    assert [m.name for m in months] == ["2024-03", "2024-04"]
    assert months[0].sets_min_price == frozenset({"yanxuan"})
    world, sets = months[1].world, months[0].sets_min_price

    def min30(*rows: tuple[str, str, int, bool]) -> int:
        return moved_world(world, tuple(rows), sets).skus["S1"].min30_fen

    assert min30() == 900
    assert min30(("S1", "yanxuan", 600, False)) == 600
    assert min30(("S1", "yanxuan", 950, False)) == 900  # never above the catalogue's
    assert min30(("S1", "offsite", 500, False)) == 900  # off-site private prices never count
    assert min30(("S1", "offsite", 500, False), ("S1", "yanxuan", 700, True)) == 700


def test_a_month_without_yanxuan_still_pays_for_last_months_price(tmp_path: Path) -> None:
    """Month 2 closes 严选 (a per-month programs override): the month-1 严选 price still moves
    month 2's cap. 严选 9 then off-site kept: 88.89 + 143.75 + 187.5 = 420.14 beats 严选 6
    (100 + 143.75 + 92 = 335.75), 严选 8 (93.75 + 143.75 + 131.43) and no 严选 (331.25)."""
    sc = _variant(tmp_path, periods=[{"name": "a"},
                                     {"name": "b", "programs": {"yanxuan": {"enabled": False}}}])
    joint = months_optimum(sc)
    assert joint is not None
    assert joint.value == pytest.approx(YX[9] + _off(8, 23) + _off(8, 30))
    assert joint.rows[1] == (("S1", "offsite", 800, True),)
    alone = month_by_month(sc)
    assert alone is not None and alone.value == pytest.approx(YX[6] + _off(8, 23) + _off(5, 23))


def test_constraints_key_by_key_per_month(tmp_path: Path) -> None:
    """Month 2 allows no off-site slot: nothing is left to protect, so month 1 takes its own
    optimum (243.75) and month 2 严选 alone (100)."""
    sc = _variant(tmp_path, constraints={"discount_budget": 1000},
                  periods=[{"name": "a"},
                           {"name": "b", "constraints": {"max_skus": {"offsite": 0}}}])
    joint = months_optimum(sc)
    assert joint is not None
    assert joint.margins == pytest.approx((243.75, 100.0))
    assert joint.rows[1] == (("S1", "yanxuan", 600, True),)


def test_no_exit_binds_within_a_month_only(tmp_path: Path) -> None:
    """Today 严选 at 9 (no_exit): month 1 must keep it (so month by month already plans the
    joint optimum, 520.14); month 2 is free to drop it to 6."""
    (tmp_path / "current.csv").write_text("sku_id,program,price\nS1,yanxuan,9.00\n", "utf-8")
    sc = _variant(tmp_path, current="current.csv")
    joint, alone = months_optimum(sc), month_by_month(sc)
    assert joint is not None and alone is not None
    assert joint.value == pytest.approx(YX[9] + _off(8, 23) + YX[6] + _off(8, 30))
    assert alone.value == pytest.approx(joint.value)
    assert joint.rows[0] == (("S1", "offsite", 800, False), ("S1", "yanxuan", 900, True))
    assert joint.rows[1] == (("S1", "offsite", 800, True), ("S1", "yanxuan", 600, False))


def test_three_months_each_cap_from_the_month_before(tmp_path: Path) -> None:
    """Three months: 严选 9, 9, then 6 in the last (nothing after it to protect), off-site 8
    kept from month 1 on: 232.64 + (88.89 + 187.5) + (100 + 187.5) = 796.53. Month by month:
    243.75, then off-site 5 (192), then 严选 6 keeps the minimum at 6 and off-site 5 continues
    (100 + 300 x 2 / 5 = 220): 655.75."""
    sc = _variant(tmp_path, periods=3)
    joint, alone = months_optimum(sc), month_by_month(sc)
    assert joint is not None and alone is not None
    assert joint.margins == pytest.approx((YX[9] + _off(8, 23), YX[9] + _off(8, 30),
                                           YX[6] + _off(8, 30)))
    assert alone.margins == pytest.approx((243.75, 192.0, YX[6] + _off(5, 30)))
    assert alone.value == pytest.approx(655.75)


def test_stock_is_the_catalogues_each_month(tmp_path: Path) -> None:
    """Off-site only, 30 units a month (stock 1000 - 970 reserve days x 1). Month 1: new at 8
    sells 23 x 10 / 8 = 28.75 units (143.75). Kept at 8 in month 2 it would sell 37.5 > 30, so
    the offer exits and registers again at 8 (28.75 units, 143.75; 7 would sell 32.86): the
    stock is 30 again, not 30 - 28.75."""
    sc = _variant(tmp_path, programs={"offsite": {"elasticity": 1.0, "fees": {
        "tech_service": 0, "help_sell_commission": 0}}},
        constraints={"stock_reserve_days": 970})
    joint = months_optimum(sc)
    assert joint is not None
    assert joint.margins == pytest.approx((_off(8, 23), _off(8, 23)))
    assert joint.rows == ((("S1", "offsite", 800, False),), (("S1", "offsite", 800, False),))


def test_fixed_until_exit_is_per_offer_across_months(tmp_path: Path) -> None:
    """A second SKU S2 in the same offer, off-site only (pickup 0.5 keeps it out of 严选).
    Month by month: 严选 6 on S1 moves S1's off-site cap to 5, so the whole offer leaves off-site
    and both SKUs register again: S1 at 5 (92), S2 at 8 for 23 days (143.75, not 187.5):
    387.5 + 335.75 = 723.25. Together: 严选 9, the offer keeps both rows:
    376.39 + 475 = 851.39, a gain of 128.14 (84.39 on S1 + 43.75 on S2)."""
    catalogue = (CASE / "catalogue.csv").read_text(encoding="utf-8").splitlines()
    s2 = catalogue[1].replace("S1,O1", "S2,O1").replace(",0.98,", ",0.5,")
    (tmp_path / "catalogue.csv").write_text("\n".join([*catalogue, s2]) + "\n", "utf-8")
    sc = _variant(tmp_path)
    raw = yaml.safe_load(sc.read_text(encoding="utf-8"))
    raw["catalogue"] = "catalogue.csv"
    sc.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    joint, alone = months_optimum(sc), month_by_month(sc)
    assert joint is not None and alone is not None
    assert alone.margins == pytest.approx((YX[6] + 2 * _off(8, 23),
                                           YX[6] + _off(5, 23) + _off(8, 23)))
    assert alone.rows[1] == (("S1", "offsite", 500, False), ("S1", "yanxuan", 600, True),
                             ("S2", "offsite", 800, False))
    assert joint.margins == pytest.approx((YX[9] + 2 * _off(8, 23), YX[6] + 2 * _off(8, 30)))
    assert joint.value - alone.value == pytest.approx(128.1389, abs=1e-4)


@pytest.mark.parametrize("changes", [
    {},
    {"constraints": {"discount_budget": 30}},
    {"constraints": {"gmv_min": 140}},
    {"programs": None},  # every rulebook program, real fees
    {"constraints": {"stock_reserve_days": 970}},
])
def test_every_plan_enumerated_contains_brute_pys_optimum(tmp_path: Path,
                                                          changes: dict[str, object]) -> None:
    """The full enumeration of a month (all_plans) and brute.py's pruned search agree on its
    optimum: the enumeration drops no plan brute.py finds best."""
    from optimizer.audit.inputs import load_world
    from tests.reference.brute import NOTHING_TODAY, brute_force_world
    from tests.reference.brute_months import all_plans

    sc = _variant(tmp_path, periods=None, **changes)
    world = load_world(sc)
    best = brute_force_world(world, NOTHING_TODAY)
    plans = list(all_plans(world, NOTHING_TODAY))
    if best is None:
        assert plans == []
        return
    assert len(plans) > 1
    assert max(m for m, _ in plans) == pytest.approx(best[0])


@pytest.mark.parametrize("seed", range(12))
def test_random_two_months_joint_is_at_least_month_by_month_and_replays(
        tmp_path: Path, seed: int) -> None:
    """Random variants of the case (prices, cost, demand, elasticities, real or zero fees): the
    joint optimum is never below month by month (that is one of the plans it searched), and its
    rows re-priced month by month by brute.py's arithmetic, under the caps the month before
    moved, give its margins."""
    import random

    from tests.reference.brute import plan_margin
    from tests.reference.brute_months import moved_world

    rng = random.Random(seed)
    market = rng.randint(8, 12)
    min30 = rng.randint(market - 3, market)
    cost = rng.randint(2, 4)
    row = (f"S1,O1,consumer,{market}.00,{min30}.00,{cost}.00,1000,{rng.choice([1, 2])},0,true,"
           "true,24,80,0.98,1,true")
    catalogue = (CASE / "catalogue.csv").read_text(encoding="utf-8").splitlines()[0]
    (tmp_path / "catalogue.csv").write_text(f"{catalogue}\n{row}\n", "utf-8")
    fees = rng.choice([{"tech_service": 0, "help_sell_commission": 0}, {}])
    sc = _variant(tmp_path, programs={
        "yanxuan": {"elasticity": rng.choice([1.5, 2.0, 3.0]), "fees": fees},
        "offsite": {"elasticity": rng.choice([0.5, 1.0, 2.0]), "fees": fees}})
    raw = yaml.safe_load(sc.read_text(encoding="utf-8"))
    raw["catalogue"] = "catalogue.csv"
    sc.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    joint, alone = months_optimum(sc), month_by_month(sc)
    assert joint is not None and alone is not None
    assert joint.value >= alone.value - 1e-6
    with tempfile.TemporaryDirectory() as tmp:
        months, _ = read_months(sc, Path(tmp))
    world = months[0].world
    assert plan_margin(world, joint.rows[0]) == pytest.approx(joint.margins[0])
    moved = moved_world(months[1].world, joint.rows[0], months[0].sets_min_price)
    assert plan_margin(moved, joint.rows[1]) == pytest.approx(joint.margins[1])
    assert sum(joint.margins) == pytest.approx(joint.value)
