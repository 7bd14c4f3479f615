"""Write tiny scenarios, solve them, and check every solve with the independent auditor.

Plain functions (no pytest fixtures) so that hypothesis tests, which must not use
function-scoped fixtures, can call them too; tests/conftest.py wraps them as fixtures.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from optimizer.audit import AuditReport, audit, audit_summary
from optimizer.pipeline import Outcome, run_solve
from optimizer.plan.lang import _HEADERS_ZH
from optimizer.plan.writer import build_tables, write_outputs
from optimizer.sweep import SweepOutcome, run_sweep

Row = dict[str, str]
WriteCase = Callable[..., Path]  # the write_case fixture: (rows, **overrides) -> scenario path
SolveCase = Callable[[Path], tuple[Outcome, list[Row], list[Row]]]  # the solve_case fixture

# The SPEC 2.2 required columns, in order, with the value a row gets when it does not say.
REQUIRED: dict[str, Any] = {
    "sku_id": None,  # S1, S2, ... by position
    "offer_id": None,  # O1, O2, ... by position: each SKU its own offer unless told
    "category": "consumer", "market_price": "12.00", "min_price_30d": "11.00",
    "unit_cost": "3.00", "stock": 10000, "daily_units": 10,
}
# SPEC 2.2 defaults of the optional columns: a column one row gives gets these in the others.
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "shipping_cost": "0.00", "dropship": "false", "return_7day": "false", "ship_hours": 72,
    "growth_score": 0, "pickup_rate_48h": 0,
    "moq": 1, "alipay_guarantee": "true", "listed_days": 365, "sales_last_month": 0,
}

# Optional columns with which a SKU passes every SKU rule of every program of 1688-2024.
GOOD: dict[str, Any] = {
    "shipping_cost": "0.00", "dropship": "true", "return_7day": "true", "ship_hours": 24,
    "growth_score": 80, "pickup_rate_48h": "0.95", "moq": 1, "alipay_guarantee": "true",
    "listed_days": 365,
    "sales_last_month": 100,
}

# A shop that passes every merchant rule of 1688-2024.
MERCHANT: dict[str, Any] = {
    "main_industry": "consumer", "l_level": 3, "membership": "chengxintong", "service_star": 4.0,
    "logistics_score": 3.5, "product_experience_score": 3.0, "trade_medal": 2,
    "alipay_verified": True, "buyer_protection": True, "buyer_protection_deposit": 5000,
    "violation_points": 0, "prohibited_points": 0, "dispute_score": 4.5,
    "fake_trading_3m": False, "ip_infringement": False, "compliance_violation": False,
    "infringing_goods_penalty": False, "court_dishonest": False, "finance_overdue": False,
}

SOLVER: dict[str, Any] = {"time_limit_s": 10, "relative_gap": 0.0001, "seed": 0, "workers": 2}


def sku(**fields: Any) -> dict[str, Any]:
    """A catalogue row that passes every SKU rule, with `fields` on top."""
    return {**GOOD, **fields}


def write_case(folder: Path, rows: Sequence[Mapping[str, Any]], **overrides: Any) -> Path:
    """catalogue.csv + scenario.yaml in `folder`; returns the scenario path.

    Rows give any columns; missing required ones get REQUIRED's values, an optional column given
    by some rows gets its SPEC default in the others (elasticity has none, so all or no rows).
    Scenario: price_step 0.01, every rulebook program, MERCHANT, SOLVER. `merchant=` and
    `solver=` are merged into the defaults (a merchant value None drops the field: it is then
    missing); any other keyword (programs, constraints, price_step, ...) is set as given.
    """
    folder.mkdir(parents=True, exist_ok=True)
    full: list[dict[str, Any]] = []
    for i, given in enumerate(rows, start=1):
        full.append({**REQUIRED, "sku_id": f"S{i}", "offer_id": f"O{i}", **given})
    columns = list(dict.fromkeys(c for r in full for c in r))
    for c in columns:
        missing = [r["sku_id"] for r in full if c not in r]
        if missing and c not in OPTIONAL_DEFAULTS:
            raise ValueError(f"column {c} has no default; give it in every row (not {missing})")
    with (folder / "catalogue.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in full:
            writer.writerow({c: r.get(c, OPTIONAL_DEFAULTS.get(c)) for c in columns})

    merchant = {**MERCHANT, **overrides.pop("merchant", {})}
    scenario: dict[str, Any] = {
        "name": "case", "catalogue": "catalogue.csv", "rulebook": "1688-2024",
        "merchant": {k: v for k, v in merchant.items() if v is not None},
        "price_step": 0.01,
        "solver": {**SOLVER, **overrides.pop("solver", {})},
    }
    scenario |= overrides
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def read_csv(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return [dict(r) for r in csv.DictReader(f)]


def solve_case(scenario_path: Path, outdir: Path | None = None
               ) -> tuple[Outcome, list[Row], list[Row]]:
    """Solve into `outdir` (default: `out` beside the scenario), then audit what was written.

    Every solve in these tests goes through the auditor: a plan that breaks a rule, or a
    summary.json that misreports the plan, fails the test whatever the test itself checks.
    """
    out = outdir if outdir is not None else scenario_path.parent / "out"
    outcome = run_solve(scenario_path, out)
    check_written(scenario_path, out)
    return outcome, read_csv(out / "plan.csv"), read_csv(out / "excluded.csv")


def check_written(scenario_path: Path, out: Path, status: str | None = None
                  ) -> AuditReport | None:
    """The independent auditor on what a solve wrote in `out`: plan.csv breaks no rule and
    reports its figures right, summary.json reports the plan right. With no plan (INFEASIBLE,
    NO_SOLUTION) the plan is empty and can only miss the GMV target that made it so. `status`:
    the solve's own; a run without a plan that kept an earlier plan in `out` is not audited
    again (its files are the earlier run's, audited then).

    tests/conftest.py runs this after every write of optimizer.pipeline (so every plan any test
    produces is audited); call it directly on files written another way."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if status is not None and status in ("INFEASIBLE", "NO_SOLUTION") and \
            summary["status"] != status:
        return None  # a run without a plan kept the last good plan: audited when written
    plan_path = _english_plan(out / "plan.csv")
    plan = read_csv(plan_path)
    report = audit(scenario_path, plan_path)
    if summary["status"] in ("INFEASIBLE", "NO_SOLUTION"):
        assert plan == [], plan
        assert report.codes() <= {"GMV_MIN"}, "auditor:\n" + report.format()
    else:
        assert not report.violations, "auditor:\n" + report.format()
    bad = audit_summary(summary, report)
    assert not bad, "audit_summary:\n" + "\n".join(str(v) for v in bad)
    return report


def audit_result(scenario_path: Path, scenario: Any, rulebook: Any, pb: Any, rules: Any,
                 result: Any, out: Path) -> AuditReport:
    """Write an in-memory solve (optimizer.solve.solve's Result on `pb`) with the package's
    writer into `out`, then audit it like any solve (check_written): for tests that call the
    solver directly, so their plans too go through the auditor."""
    write_outputs(out, build_tables(scenario, rulebook, pb, rules, result))
    return check_written(scenario_path, out)


def _plain(value: Any) -> Any:
    """A pydantic dump as plain YAML data: Decimals become numbers (the auditor reads numbers)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def audited_sweep(scenario_path: Path, sets: Sequence[str], outdir: Path,
                  **options: Any) -> SweepOutcome:
    """run_sweep, and every point's plan (break-even searches' extra points too) written and
    audited like a solve's: the point's own
    scenario (base + its --set values) is written beside the base scenario as point-<i>.yaml,
    the plan the sweep solved (captured from the runner, in this process: workers=1) is written
    with the package's writer and checked by the auditor against that file (check_written)."""
    from optimizer.sweep import execute, runner

    points: list[tuple[Any, Any, Any, Any]] = []
    real_point, real_solve = execute.run_point, runner.solve
    seen: list[tuple[Any, Any]] = []

    def solve_spy(pb: Any, config: Any, **kwargs: Any) -> Any:
        result = real_solve(pb, config, **kwargs)
        seen[:] = [(pb, result)]
        return result

    def point_spy(prep: Any, spec: Any, warm: Any, threads: int | None = None) -> Any:
        out = real_point(prep, spec, warm, threads)
        points.append((spec, runner._outcome(prep, spec), *seen[0]))
        return out

    execute.run_point, runner.solve = point_spy, solve_spy  # type: ignore[assignment]
    try:
        outcome = run_sweep(scenario_path, sets, outdir, workers=1, **options)
    finally:
        execute.run_point, runner.solve = real_point, real_solve  # type: ignore[assignment]
    solved = {spec.key for spec, *_ in points}
    assert all(q.key in solved for q in outcome.points), "a point was not solved in this process"
    for i, (spec, rules, pb, result) in enumerate(points):
        point_yaml = scenario_path.with_name(f"point-{i}.yaml")
        point_yaml.write_text(yaml.safe_dump(_plain(spec.scenario.model_dump()),
                                             allow_unicode=True, sort_keys=False), "utf-8")
        report = audit_result(point_yaml, spec.scenario, spec.rulebook, pb, rules, result,
                              outdir.with_name(f"{outdir.name}-point-{i}"))
        record = next((q for q in outcome.points if q.key == spec.key), None)
        if record is not None and record.objective is not None:  # it reports the audited plan
            assert abs(report.objective - record.objective) <= 0.01 + 1e-9 * abs(
                record.objective), (spec.key, report.objective, record.objective)
    return outcome


def _english_plan(path: Path) -> Path:
    """plan.csv as the auditor reads it: a `--lang zh` plan's headers put back in English in a
    temporary copy (the auditor reads English headers only)."""
    zh = {v: k for k, v in _HEADERS_ZH.items()}
    rows = read_csv(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    if not any(h in zh for h in header):
        return path
    english = Path(tempfile.mkdtemp(prefix="plan-en-")) / "plan.csv"  # never in the output folder
    with english.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([zh.get(h, h) for h in header])
        writer.writerows([r[h] for h in header] for r in rows)
    return english


def plan_of(plan: Sequence[Row]) -> dict[tuple[str, str], Row]:
    """Plan rows keyed by (sku_id, program)."""
    return {(r["sku_id"], r["program"]): r for r in plan}


def excluded_of(excluded: Sequence[Row]) -> dict[tuple[str, str], Row]:
    """excluded.csv rows keyed by (sku_id, program)."""
    return {(r["sku_id"], r["program"]): r for r in excluded}


def close_to(value: float, expected: float, rel: float = 1e-6, abs_: float = 0.01) -> bool:
    """The optimality tolerance of these tests: 1e-6 relative plus 0.01 yuan."""
    return abs(value - expected) <= rel * abs(expected) + abs_


# ---------------------------------------------------------------------------------------------
# The SPEC's model of 1688-2024, written out by hand from SPEC.md (not read from the rulebook
# file), to compute expected prices, fees and optima independently of the package.


@dataclass(frozen=True)
class SpecProgram:
    horizon: float
    multiplier: float
    elasticity: float
    free_shipping: bool
    help_sell: bool
    caps: tuple[tuple[str, Fraction, bool], ...]  # (field, ratio, strict)
    own_fees: tuple[tuple[str, Fraction], ...]  # (group, rate) charged on own orders
    review: float = 0  # SPEC 3's review_days: a new enrollment sells horizon - review days

    @property
    def selling_days(self) -> float:
        return max(self.horizon - self.review, 0)


F = Fraction
ZERO = F(0)
SPEC_PROGRAMS: dict[str, SpecProgram] = {
    "offsite": SpecProgram(30, 1.0, 2.5, True, True,
                           (("min_price_30d", F(1), True), ("market_price", F(9, 10), True)),
                           (("tech_service", F(6, 1000)), ("help_sell_commission", F(0))), 7),
    "yanxuan": SpecProgram(2, 6.0, 1.8, True, True, (("market_price", F(95, 100), False),),
                           (("tech_service", F(6, 1000)),)),
    "huopin": SpecProgram(7, 3.0, 2.0, False, False, (("market_price", F(9, 10), False),),
                          (("tech_service", F(6, 1000)),)),
    "crossborder": SpecProgram(30, 0.5, 2.0, True, True, (("market_price", F(95, 100), False),),
                               (("tech_service", F(6, 1000)), ("help_sell_commission", F(5, 100))),
                               3),
    "aliexpress_semi": SpecProgram(30, 0.8, 2.2, False, False, (("market_price", F(1), False),),
                                   (("marketplace_commission", F(8, 100)),)),
}
# yanxuan's commission, charged on the SKU's orders in every help-sell program it is in
YANXUAN_ALL_HELP_SELL = F(5, 100)
FEE_CAPS: dict[str, Fraction | None] = {"tech_service": F(6, 1000),
                                        "help_sell_commission": F(5, 100),
                                        "marketplace_commission": None}
EXCLUSIVE = frozenset({frozenset({"offsite", "huopin"})})


def value(row: Mapping[str, Any], column: str) -> Any:
    """A row's value as write_case writes it (REQUIRED / OPTIONAL_DEFAULTS when not given)."""
    if column in row:
        return row[column]
    return REQUIRED[column] if column in REQUIRED else OPTIONAL_DEFAULTS[column]


def fen(yuan: Any) -> int:
    """Exact fen of a yuan amount written as text or a number with at most 2 decimals."""
    value = F(str(yuan)) * 100
    assert value.denominator == 1, yuan
    return int(value)


def spec_fee(program: str, enrolled: frozenset[str] | set[str],
             own: Mapping[str, Fraction] | None = None,
             caps: Mapping[str, Fraction | None] | None = None) -> Fraction:
    """SPEC 3 non-stacking: per group min(cap, max(applicable)), summed. `own` overrides the
    program's own rates by group, `caps` the group caps."""
    prog = SPEC_PROGRAMS[program]
    rates: dict[str, list[Fraction]] = {}
    for group, rate in prog.own_fees:
        rates.setdefault(group, []).append((own or {}).get(group, rate))
    if prog.help_sell and "yanxuan" in {*enrolled, program}:
        rates.setdefault("help_sell_commission", []).append(YANXUAN_ALL_HELP_SELL)
    all_caps = {**FEE_CAPS, **(caps or {})}
    total = F(0)
    for group, rs in rates.items():
        cap = all_caps[group]
        total += max(rs) if cap is None else min(cap, max(rs))
    return total


def spec_cap_ok(program: str, row: Mapping[str, Any], price_fen: int | Fraction) -> bool:
    """Every SPEC price cap of `program` holds at this price, exactly."""
    for field, ratio, strict in SPEC_PROGRAMS[program].caps:
        bound = ratio * fen(value(row, field))
        if (price_fen >= bound) if strict else (price_fen > bound):
            return False
    return True


def spec_top_price(program: str, row: Mapping[str, Any], step_fen: int) -> int:
    """The highest lattice price (fen) under every cap, 0 if none."""
    top = min((math.ceil(bound) - 1) if strict else math.floor(bound)
              for bound, strict in ((ratio * fen(value(row, field)), strict)
                                    for field, ratio, strict in SPEC_PROGRAMS[program].caps))
    return max(top, 0) // step_fen * step_fen


def unit_cost_fen(program: str, row: Mapping[str, Any]) -> int:
    ship = fen(value(row, "shipping_cost")) if SPEC_PROGRAMS[program].free_shipping else 0
    return fen(value(row, "unit_cost")) + ship


def spec_units(program: str, row: Mapping[str, Any], price_fen: int) -> float:
    """SPEC 4 expected units (the SKU's elasticity column, else the program's)."""
    prog = SPEC_PROGRAMS[program]
    e = float(row["elasticity"]) if "elasticity" in row else prog.elasticity
    daily = float(value(row, "daily_units"))
    market = fen(value(row, "market_price"))
    return daily * prog.multiplier * prog.selling_days * (price_fen / market) ** (-e)


def spec_margin(program: str, row: Mapping[str, Any], price_fen: int, fee: Fraction) -> float:
    """SPEC 4 margin in yuan of one enrollment."""
    u = spec_units(program, row, price_fen)
    return u * (price_fen * (1 - float(fee)) - unit_cost_fen(program, row)) / 100


def keeps_margin(program: str, row: Mapping[str, Any], price_fen: int, fee: Fraction,
                 rate: Fraction = ZERO) -> bool:
    """p*(1-fee) - c >= rate*p, exactly in Fractions."""
    return price_fen * (1 - fee) - unit_cost_fen(program, row) >= rate * price_fen


def best_price(program: str, row: Mapping[str, Any], fee: Fraction, step_fen: int = 1,
               rate: Fraction = ZERO, max_units: float = math.inf) -> tuple[float, int] | None:
    """(margin yuan, price fen) of the best lattice price of one SKU in one program with the
    given fee, by enumerating every lattice price; None when no price is allowed."""
    return _best_price(program, tuple(sorted(row.items())), fee, step_fen, rate, max_units)


@cache
def _best_price(program: str, items: tuple[tuple[str, Any], ...], fee: Fraction, step_fen: int,
                rate: Fraction, max_units: float) -> tuple[float, int] | None:
    row = dict(items)
    best: tuple[float, int] | None = None
    for p in range(step_fen, spec_top_price(program, row, step_fen) + 1, step_fen):
        if not keeps_margin(program, row, p, fee, rate):
            continue
        if spec_units(program, row, p) > max_units:
            continue
        m = spec_margin(program, row, p, fee)
        if best is None or m > best[0]:
            best = (m, p)
    return best


def best_single_sku(row: Mapping[str, Any], eligible: Sequence[str], step_fen: int = 1,
                    rate: Fraction = ZERO) -> float:
    """The optimum (yuan) of one SKU alone in its offer, no global constraint, stock not binding:
    every set of eligible programs (no exclusive pair), each at its best price with the fee
    that set pays."""
    best, best_units = 0.0, 0.0
    for r in range(1, len(eligible) + 1):
        for chosen in combinations(eligible, r):
            if any(frozenset(pair) in EXCLUSIVE for pair in combinations(chosen, 2)):
                continue
            total, units = 0.0, 0.0
            for k in chosen:
                found = best_price(k, row, spec_fee(k, set(chosen)), step_fen, rate)
                if found is None:
                    break
                total += found[0]
                units += spec_units(k, row, found[1])
            else:
                if total > best:
                    best, best_units = total, units
    assert best_units <= float(value(row, "stock")), "this hand computation needs slack stock"
    return best
