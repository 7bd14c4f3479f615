"""Several months audited together (SPEC 6.3), on the auditor's own reading of `periods:`.

Each month is audited as a full plan (optimizer.audit.auditor) against a world of its own:
the scenario with the month's overrides (`programs` deep-merged, `constraints` key by key),
and, from month 2 on, what the month before left behind:

  * its 30-day minimum: min(the catalogue's min_price_30d, the lowest price at which the SKU
    is enrolled last month in a program that `sets_min_price`), which every cap on
    min_price_30d reads; a PRICE_CAP on a moved minimum names the month and program it came
    from;
  * its today: last month's rows (in programs still open) are this month's current
    enrollments, so a row kept at the same price sells the whole horizon and a
    `fixed_until_exit` offer keeps its rows or leaves and registers again; `no_exit` binds
    within a month only, so they lock nothing (no LOCKED across months). Month 1's today is the
    scenario's `current:`.

Like the rest of optimizer.audit it reads the files itself and imports nothing of the optimiser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from optimizer.audit.auditor import AuditReport, audit_world
from optimizer.audit.inputs import (
    AuditInputError,
    Enrolled,
    Sku,
    World,
    deep_merge,
    read_catalogue,
    read_scenario,
    world_of,
)


@dataclass(frozen=True)
class Month:
    """One month before the plan is read: its programs and constraints merged, its caps the
    catalogue's, its today the scenario's `current:` (month 1) or nothing yet."""

    name: str
    world: World


@dataclass(frozen=True)
class MonthAudit:
    """One month audited: the world it was checked against (caps moved, last month's plan as
    today) and the auditor's report."""

    name: str
    world: World
    report: AuditReport


def _months_listed(periods: Any) -> list[dict[str, Any]]:
    """`periods:` as a list of months {name, programs?, constraints?} (names 1, 2, ... for a
    count)."""
    if isinstance(periods, int) and not isinstance(periods, bool) and periods >= 1:
        return [{"name": str(i)} for i in range(1, periods + 1)]
    if isinstance(periods, list) and periods and all(
            isinstance(m, dict) and m.get("name") is not None for m in periods):
        return [dict(m) for m in periods]
    raise AuditInputError(f"periods: {periods!r} is neither a number of months nor a list of "
                          "named months")


def plans_months(scenario: Mapping[str, Any]) -> bool:
    """Whether a scenario (as read) is planned month by month: several months, or one month
    with its own overrides. `periods: 1` or one plain month is exactly no `periods:`."""
    periods = scenario.get("periods")
    if periods is None:
        return False
    months = _months_listed(periods)
    return len(months) > 1 or any(months[0].get(k) is not None
                                  for k in ("programs", "constraints"))


def load_months(scenario_path: Path) -> list[Month] | None:
    """The scenario's months, each a world of its own (None: the scenario plans one month
    without overrides, which the auditor checks as it checks any scenario). The rulebook and
    the catalogue are read once."""
    scenario_path = Path(scenario_path)
    sc, book = read_scenario(scenario_path)
    if not plans_months(sc):
        return None
    if "catalogue" not in sc:
        raise AuditInputError(f"{scenario_path}: no catalogue")
    skus = read_catalogue(scenario_path.parent / str(sc["catalogue"]))
    base_programs = sc.get("programs")
    if base_programs is not None and not isinstance(base_programs, dict):
        raise AuditInputError("programs: expected a mapping of program ids")
    months = []
    for t, m in enumerate(_months_listed(sc["periods"])):
        month = {k: v for k, v in sc.items() if k != "periods" and not (t and k == "current")}
        if m.get("programs") is not None:
            base = (base_programs if base_programs is not None
                    else {pid: {} for pid in book.get("programs") or {}})
            month["programs"] = deep_merge({k: v or {} for k, v in base.items()},
                                           {k: v or {} for k, v in m["programs"].items()})
        if m.get("constraints") is not None:
            month["constraints"] = {**(sc.get("constraints") or {}), **m["constraints"]}
        world = world_of(month, scenario_path, book=book, skus=skus)
        months.append(Month(str(m["name"]), world))
    return months


def after(month: Month, last: MonthAudit) -> World:
    """Month t+1's world once month t is audited: the 30-day minima month t's rows moved and
    month t's rows as today (binding no no_exit)."""
    low: dict[str, tuple[Fraction, str]] = {}  # sku_id -> (lowest price fen, its program)
    for ln in last.report.lines:
        if ln.price_fen > 0 and last.world.programs[ln.program].sets_min_price:
            seen = low.get(ln.sku_id)
            if seen is None or ln.price_fen < seen[0]:
                low[ln.sku_id] = (ln.price_fen, ln.program)
    skus: dict[str, Sku] = dict(month.world.skus)
    for sku_id, (fen, pid) in low.items():
        sku = skus[sku_id]
        if fen < sku.min30_fen:
            skus[sku_id] = replace(
                sku, min30_fen=math.floor(fen), fields={**sku.fields, "min_price_30d": fen / 100},
                min30_source=f"month {last.name}'s {pid} price")
    today = {(ln.sku_id, ln.program): Enrolled(ln.sku_id, ln.program, int(ln.price_fen), ln.row)
             for ln in last.report.lines
             if ln.program in month.world.programs and ln.price_fen > 0
             and ln.price_fen.denominator == 1}
    return replace(month.world, skus=skus, current=today, current_binds=False, memo={})


def audit_months(months: Sequence[Month], rows: Sequence[Sequence[Mapping[str, str]]],
                 row_numbers: Sequence[Sequence[int]] | None = None) -> list[MonthAudit]:
    """Each month's rows (sku_id, program, price) audited in order, each month against the
    world the months before it left (`after`). `row_numbers`: each row's number in the whole
    plan, so that findings name the plan's rows."""
    if len(rows) != len(months):
        raise ValueError(f"{len(rows)} months of rows for {len(months)} months")
    out: list[MonthAudit] = []
    for t, month in enumerate(months):
        world = month.world if not out else after(month, out[-1])
        numbers = None if row_numbers is None else row_numbers[t]
        report = audit_world(world, rows[t], printed=False, row_numbers=numbers)
        out.append(MonthAudit(month.name, world, report))
    return out
