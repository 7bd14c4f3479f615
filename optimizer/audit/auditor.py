"""Check a written plan against the scenario's rules, solver-independently (the `audit` command).

The auditor re-reads the scenario, rulebook and catalogue itself (optimizer.audit.inputs) and
recomputes every enrollment from the SPEC (optimizer.audit.semantics): a plan is trusted only
if an implementation that shares nothing with the optimiser agrees with it. Each rule is one
small check that returns Violations; the report also carries the recomputed objective and the
per-program totals so a summary.json can be checked against them (optimizer.audit.summary).
One module because the checks are one list, read in the order the SPEC states the rules.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from optimizer.audit import semantics as sem
from optimizer.audit.inputs import Sku, World, load_world

PLAN_COLUMNS = ("sku_id", "offer_id", "program", "price", "units", "revenue", "fee_rate", "fees",
                "margin")
UNITS_TOL = 0.0005  # units are printed with 3 decimals
MONEY_TOL = 0.005  # yuan are printed with 2 decimals
FEE_RATE_TOL = 1e-9

CODES = {
    "MISSING_COLUMN": "plan.csv lacks a column",
    "BAD_VALUE": "a cell is not a number",
    "UNKNOWN_SKU": "sku_id is not in the catalogue",
    "UNKNOWN_PROGRAM": "program is not an active program of the scenario",
    "DUPLICATE": "the SKU appears twice in one program",
    "OFFER_MISMATCH": "offer_id differs from the catalogue's",
    "MERCHANT_RULE": "a merchant rule of the program fails",
    "SKU_RULE": "a SKU rule of the program fails",
    "PRICE_STEP": "price is not a whole fen or not a multiple of price_step",
    "PRICE_MIN": "price is below 1 fen",
    "PRICE_CAP": "price breaks a price cap",
    "MIN_MARGIN": "price*(1-fee paid) - unit cost < min_unit_margin_rate * price",
    "MISMATCH_UNITS": "printed units differ from the recomputation",
    "MISMATCH_REVENUE": "printed revenue differs from the recomputation",
    "MISMATCH_FEE_RATE": "printed fee_rate differs from the non-stacking fee rate",
    "MISMATCH_FEES": "printed fees differ from the recomputation",
    "MISMATCH_MARGIN": "printed margin differs from the recomputation",
    "MISMATCH_CHANGE": "printed change (keep | new | reprice) differs from today's enrollments",
    "STOCK": "units of the SKU exceed stock minus the reserve",
    "ALL_OR_NONE": "an all-or-none program has part of an offer's eligible SKUs",
    "EXCLUSIVE": "an offer is in two programs exclusive with each other",
    "MAX_SKUS": "more SKUs in a program than max_skus allows",
    "DISCOUNT_BUDGET": "sum units*(market-price) exceeds discount_budget",
    "GMV_MIN": "baseline_gmv + sum units*price of the counting programs is below gmv_min",
    "LOCKED": "a no_exit enrollment of today (current) is missing from the plan or repriced",
    "SUMMARY_STATUS": "summary status is unknown or not earned",
    "SUMMARY_OBJECTIVE": "summary objective differs from the recomputed one",
    "SUMMARY_BOUND": "summary bound is missing or below the objective",
    "SUMMARY_GAP": "summary gap differs from (bound-objective)/max(|objective|,1)",
    "SUMMARY_PROGRAM": "summary per-program figures differ",
    "SUMMARY_CONSTRAINT": "summary constraint values differ",
    "SUMMARY_CHANGES": "summary changes (keep, new, reprice, exit) differ from the plan's",
}


@dataclass(frozen=True)
class Violation:
    code: str  # one of CODES
    sku_id: str | None
    program: str | None
    message: str
    row: int | None = None  # the 1-based data row of the plan, for a rule of one row
    # a rule a continuing no_exit enrollment breaks: the plan must keep the row (SPEC 6.1), so
    # it is reported apart and is no fault of the plan
    locked: bool = False
    price: str | None = None  # yuan, for a finding about a row the plan lacks (LOCKED)

    def __str__(self) -> str:
        where = " ".join(x for x in (self.sku_id, self.program) if x)
        text = f"{self.code} {where}: {self.message}" if where else f"{self.code}: {self.message}"
        return text + (" (locked: no_exit)" if self.locked else "")


@dataclass(frozen=True)
class ProgramTotals:
    enrolled_skus: int
    units: float
    revenue: float
    fees: float
    margin: float


@dataclass(frozen=True)
class Line:
    """One plan row, resolved against the catalogue and recomputed (eco None: price <= 0)."""

    row: int  # 1-based data row of plan.csv
    sku: Sku
    program: str
    price_fen: Fraction
    printed: Mapping[str, str]
    fee: Fraction = Fraction(0)
    eco: sem.Economics | None = None
    # the same SKU, program and price as today's (and, in a fixed_until_exit program, the offer
    # keeps exactly today's rows there): it sells the whole horizon (SPEC 6.1)
    continuing: bool = False

    @property
    def sku_id(self) -> str:
        return self.sku.sku_id


@dataclass
class AuditReport:
    scenario: str
    violations: list[Violation]
    objective: float  # yuan, from the recomputed rows
    programs: dict[str, ProgramTotals]
    gmv: float  # yuan, sum units*price (every program)
    gmv_counted: float  # yuan, the 通天 GMV: baseline_gmv + units*price of the counting programs
    discount: float  # yuan, sum units*(market-price)
    relative_gap: float  # the scenario's solver.relative_gap, for audit_summary
    lines: list[Line] = field(default_factory=list, repr=False)
    # each global constraint of the scenario: {"value": the plan's, "limit": the scenario's}
    constraints: dict[str, dict[str, float]] = field(default_factory=dict)
    # rules continuing no_exit rows now break (SPEC 6.1): reported, not violations of the plan
    locked: list[Violation] = field(default_factory=list)
    # keep, new, reprice: plan rows; exit: today's pairs the plan leaves (SPEC 6.1)
    changes: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def codes(self) -> set[str]:
        return {v.code for v in self.violations}

    def format(self) -> str:
        head = (f"{self.scenario}: {len(self.lines)} enrollments, objective "
                f"{self.objective:.2f} yuan, {len(self.violations)} violations")
        locked = (f"; {len(self.locked)} rule(s) broken by rows locked by no_exit"
                  if self.locked else "")
        return "\n".join([head + locked, *(str(v) for v in [*self.violations, *self.locked])])


# ---------------------------------------------------------------------------------------------
# Entry points


def audit(scenario_path: Path, plan_csv: Path) -> AuditReport:
    with Path(plan_csv).open(newline="", encoding="utf-8-sig") as f:
        rows = [dict(r) for r in csv.DictReader(f)]
    return audit_rows(scenario_path, rows)


def audit_rows(scenario_path: Path, rows: Sequence[Mapping[str, str]]) -> AuditReport:
    return audit_world(load_world(Path(scenario_path)), rows)


def audit_world(world: World, rows: Sequence[Mapping[str, str]], *,
                printed: bool = True, row_numbers: Sequence[int] | None = None) -> AuditReport:
    """Audit plan rows against an already-read world (lets callers audit many plans cheaply).

    `printed` False: the rows carry only sku_id, program and price (a plan a merchant edited,
    the `audit` command); the printed offer_id and figures are then not compared, only the
    rules checked and the figures recomputed. `row_numbers`: each row's number in the whole
    plan (one month's rows of a several-month plan), else 1, 2, ..."""
    if row_numbers is not None and len(row_numbers) != len(rows):
        raise ValueError(f"{len(row_numbers)} row numbers for {len(rows)} rows")
    return _Audit(world, printed=printed, row_numbers=row_numbers).run(rows)


def change_of(world: World, ln: Line) -> str:
    """SPEC 6.1: keep (continuing), reprice (the pair is enrolled today, not continued), new."""
    if ln.continuing:
        return "keep"
    return "reprice" if (ln.sku_id, ln.program) in world.current else "new"


def changes_of(world: World, lines: Sequence[Line]) -> dict[str, int]:
    """How many plan rows keep, are new, reprice; how many of today's pairs the plan leaves."""
    out = dict.fromkeys(("keep", "new", "reprice"), 0)
    for ln in lines:
        out[change_of(world, ln)] += 1
    planned = {(ln.sku_id, ln.program) for ln in lines}
    out["exit"] = sum(1 for pair in world.current if pair not in planned)
    return out


def _number(text: str | None) -> float | None:
    try:
        return float(Decimal((text or "").strip()))
    except InvalidOperation:
        return None


class _Audit:
    """One audit: the world, the rows resolved, and a cache of rule outcomes."""

    def __init__(self, world: World, *, printed: bool = True,
                 row_numbers: Sequence[int] | None = None) -> None:
        self.world = world
        self.printed = printed
        self.row_numbers = row_numbers
        self.violations: list[Violation] = []
        self.locked: list[Violation] = []
        self._offers = world.offers()

    def flag(self, code: str, sku_id: str | None, program: str | None, message: str,
             row: int | None = None) -> None:
        assert code in CODES, code
        self.violations.append(Violation(code, sku_id, program, message, row))

    def run(self, rows: Sequence[Mapping[str, str]]) -> AuditReport:
        lines = self.resolve(rows)
        continuing = self.continuing(lines)
        enrolled: dict[str, set[str]] = {}
        for ln in lines:
            enrolled.setdefault(ln.sku_id, set()).add(ln.program)
        lines = [self.recompute(ln, enrolled[ln.sku_id], ln.row in continuing) for ln in lines]
        for check in self.ROW_CHECKS if self.printed else self.RULE_ROW_CHECKS:
            for ln in lines:
                check(self, ln)
        for plan_check in self.PLAN_CHECKS:
            plan_check(self, lines)
        self.set_locked_apart(lines)
        return self.report(lines)

    # -- today's enrollments (SPEC 6.1) ---------------------------------------------------

    def continuing(self, lines: Sequence[Line]) -> set[int]:
        """The rows that continue today's enrollment: same SKU, program and price as a row of
        `current`. In a fixed_until_exit program, an offer whose rows there differ in any way
        from today's (a SKU added, dropped or repriced) left and registered again: all its
        rows there are new."""
        current = self.world.current
        same = {ln.row for ln in lines
                if (c := current.get((ln.sku_id, ln.program))) is not None
                and c.price_fen == ln.price_fen}
        for pid, prog in self.world.programs.items():
            if prog.commitment != "fixed_until_exit":
                continue
            today: dict[str, set[tuple[str, Fraction]]] = {}
            for (sku_id, program), c in current.items():
                if program == pid:
                    offer = self.world.skus[sku_id].offer_id
                    today.setdefault(offer, set()).add((sku_id, Fraction(c.price_fen)))
            planned: dict[str, set[tuple[str, Fraction]]] = {}
            rows: dict[str, list[int]] = {}
            for ln in lines:
                if ln.program == pid:
                    planned.setdefault(ln.sku.offer_id, set()).add((ln.sku_id, ln.price_fen))
                    rows.setdefault(ln.sku.offer_id, []).append(ln.row)
            for offer, kept in today.items():
                if planned.get(offer, set()) != kept:
                    same.difference_update(rows.get(offer, []))
        return same

    def locked_lines(self, lines: Sequence[Line]) -> list[Line]:
        """Continuing rows of no_exit programs: the plan cannot drop or change them (none when
        today is last month's plan: no_exit binds within a month, SPEC 6.3)."""
        if not self.world.current_binds:
            return []
        return [ln for ln in lines if ln.continuing
                and self.world.programs[ln.program].commitment == "no_exit"]

    def check_locked(self, lines: list[Line]) -> None:
        """LOCKED: a no_exit row of today missing from the plan, or in it at another price
        (not for last month's plan as today: no_exit binds within a month, SPEC 6.3)."""
        if not self.world.current_binds:
            return
        planned = {(ln.sku_id, ln.program): ln for ln in lines}
        for (sku_id, pid), c in self.world.current.items():
            prog = self.world.programs.get(pid)
            if prog is None or prog.commitment != "no_exit":
                continue
            ln = planned.get((sku_id, pid))
            if ln is None:
                self.violations.append(Violation(
                    "LOCKED", sku_id, pid, f"enrolled today at {sem.yuan(c.price_fen)} (current "
                    f"line {c.line}); {pid} is no_exit: it may not leave before the activity "
                    "ends, and the plan drops it", None, price=sem.yuan(c.price_fen)))
            elif ln.price_fen != c.price_fen:
                self.flag("LOCKED", sku_id, pid, f"price {sem.yuan(ln.price_fen)}, enrolled "
                          f"today at {sem.yuan(c.price_fen)} (current line {c.line}); {pid} is "
                          "no_exit: the enrollment keeps its price", ln.row)

    def set_locked_apart(self, lines: list[Line]) -> None:
        """The rules a continuing no_exit row breaks that the plan cannot help (SPEC 6.1: the
        row stays, the rule is reported): its merchant and SKU rules and price caps; the margin
        rule when it fails at the fee the SKU's locked rows alone make it pay; stock when the
        SKU's locked rows alone sell more than it. These leave `violations` for `locked`."""
        locked = self.locked_lines(lines)
        rows = {ln.row: ln for ln in locked}
        progs: dict[str, set[str]] = {}
        units: dict[str, float] = {}
        for ln in locked:
            progs.setdefault(ln.sku_id, set()).add(ln.program)
            units[ln.sku_id] = units.get(ln.sku_id, 0.0) + (ln.eco.units if ln.eco else 0.0)
        kept: list[Violation] = []
        for v in self.violations:
            line = rows.get(v.row) if v.row is not None else None
            apart = False
            if line is not None and v.code in ("MERCHANT_RULE", "SKU_RULE", "PRICE_CAP"):
                apart = True
            elif line is not None and v.code == "MIN_MARGIN":
                fee = sem.fee_rate(self.world, progs[line.sku_id], line.program)
                apart = not sem.keeps_margin(self.world, line.program, line.sku,
                                         line.price_fen, fee)
            elif v.code == "STOCK" and v.sku_id in units:
                limit = sem.stock_limit(self.world, self.world.skus[v.sku_id])
                apart = sem.exceeds(units[v.sku_id], limit)
            if apart:
                self.locked.append(Violation(v.code, v.sku_id, v.program, v.message, v.row,
                                             locked=True))
            else:
                kept.append(v)
        self.violations = kept

    # -- resolving rows -------------------------------------------------------------------

    def resolve(self, rows: Sequence[Mapping[str, str]]) -> list[Line]:
        """Rows -> Lines; rows that name no known SKU/program or no price are flagged, dropped."""
        if rows and self.printed:
            missing = [c for c in PLAN_COLUMNS if c not in rows[0]]
            if missing:
                self.flag("MISSING_COLUMN", None, None, f"plan lacks {', '.join(missing)}")
        seen: dict[tuple[str, str], tuple[int, str]] = {}
        lines = []
        for k, row in enumerate(rows):
            i = k + 1 if self.row_numbers is None else self.row_numbers[k]
            sku_id, pid = (row.get("sku_id") or "").strip(), (row.get("program") or "").strip()
            sku = self.world.skus.get(sku_id)
            if sku is None:
                self.flag("UNKNOWN_SKU", sku_id, pid, f"row {i}: {sku_id!r} not in the catalogue",
                          i)
                continue
            if pid not in self.world.programs:
                self.flag("UNKNOWN_PROGRAM", sku_id, pid, f"row {i}: {pid!r} is not one of "
                          f"the scenario's programs {sorted(self.world.programs)}", i)
                continue
            try:
                price = Fraction(Decimal((row.get("price") or "").strip())) * 100
            except (InvalidOperation, ValueError, OverflowError):
                self.flag("BAD_VALUE", sku_id, pid, f"row {i}: price {row.get('price')!r}", i)
                continue
            if (sku_id, pid) in seen:
                first, text = seen[(sku_id, pid)]
                self.flag("DUPLICATE", sku_id, pid, f"row {i}: {sku_id} is already in {pid} "
                          f"(row {first}, price {text})", i)
                continue
            seen[(sku_id, pid)] = (i, (row.get("price") or "").strip())
            lines.append(Line(i, sku, pid, price, row))
        return lines

    def recompute(self, ln: Line, programs: set[str], continuing: bool) -> Line:
        fee = sem.fee_rate(self.world, programs, ln.program)
        eco = (sem.economics(self.world, ln.program, ln.sku, ln.price_fen, fee, continuing)
               if ln.price_fen > 0 else None)
        return Line(ln.row, ln.sku, ln.program, ln.price_fen, ln.printed, fee, eco, continuing)

    # -- row checks -----------------------------------------------------------------------

    def check_offer(self, ln: Line) -> None:
        printed = (ln.printed.get("offer_id") or "").strip()
        if printed != ln.sku.offer_id:
            self.flag("OFFER_MISMATCH", ln.sku_id, ln.program,
                      f"offer_id {printed!r}, catalogue says {ln.sku.offer_id!r}", ln.row)

    def check_merchant_rules(self, ln: Line) -> None:
        for why in sem.merchant_failures(self.world, ln.program):
            self.flag("MERCHANT_RULE", ln.sku_id, ln.program, why, ln.row)

    def check_sku_rules(self, ln: Line) -> None:
        for why in sem.sku_failures(self.world, ln.program, ln.sku):
            self.flag("SKU_RULE", ln.sku_id, ln.program, why, ln.row)

    def check_price_lattice(self, ln: Line) -> None:
        step = self.world.price_step_fen
        if ln.price_fen < 1:
            self.flag("PRICE_MIN", ln.sku_id, ln.program,
                      f"price {sem.yuan(ln.price_fen)} is below 0.01", ln.row)
        if ln.price_fen.denominator != 1 or ln.price_fen.numerator % step:
            self.flag("PRICE_STEP", ln.sku_id, ln.program, f"price {sem.yuan(ln.price_fen)} "
                      f"is not a multiple of price_step {sem.yuan(step)}", ln.row)

    def check_price_caps(self, ln: Line) -> None:
        prog = self.world.programs[ln.program]
        for cap_id, cap in prog.price_caps.items():
            if sem.cap_holds(prog, cap_id, ln.sku, ln.price_fen):
                continue
            bound = sem.cap_bound_fen(prog, cap_id, ln.sku)
            scaled = cap.field if cap.ratio == 1 else f"{sem.show(cap.ratio)} x {cap.field}"
            rule = f"cap {cap_id}: price {'<' if cap.strict else '<='} {scaled}"
            # a 30-day minimum last month's plan moved (SPEC 6.3) says so, and where from
            moved = cap.field == "min_price_30d" and ln.sku.min30_source is not None
            shown = scaled.replace("min_price_30d", "30-day minimum") if moved else scaled
            source = f"{ln.sku.min30_source}; " if moved else ""
            if bound is None:
                why = f"price {sem.yuan(ln.price_fen)}, {cap.field} has no value ({rule})"
            else:
                why = (f"price {sem.yuan(ln.price_fen)} {'>=' if cap.strict else '>'} {shown} "
                       f"{sem.yuan(bound)} ({source}{'strict' if cap.strict else 'not strict'}"
                       f"; {rule})")
            self.flag("PRICE_CAP", ln.sku_id, ln.program, why, ln.row)

    def check_min_margin(self, ln: Line) -> None:
        if ln.price_fen <= 0 or sem.keeps_margin(self.world, ln.program, ln.sku, ln.price_fen,
                                                 ln.fee):
            return
        cost = sem.unit_cost_fen(self.world.programs[ln.program], ln.sku)
        rate = self.world.constraints.min_unit_margin_rate
        slack = ln.price_fen * (1 - ln.fee) - cost
        self.flag("MIN_MARGIN", ln.sku_id, ln.program,
                  f"price {sem.yuan(ln.price_fen)} x (1 - fee {sem.show(ln.fee)}) - unit cost "
                  f"{sem.yuan(cost)} = {float(slack) / 100:.4f} < {sem.show(rate)} x price",
                  ln.row)

    def check_printed(self, ln: Line) -> None:
        if ln.eco is None:
            return
        e = ln.eco
        for col, true, tol in (("units", e.units, UNITS_TOL), ("revenue", e.revenue, MONEY_TOL),
                               ("fees", e.fees, MONEY_TOL), ("margin", e.margin, MONEY_TOL)):
            self._compare_printed(ln, col, true, tol)
        text = (ln.printed.get("fee_rate") or "").strip()
        printed = _number(text)
        if printed is None:
            self.flag("BAD_VALUE", ln.sku_id, ln.program, f"row {ln.row}: fee_rate {text!r}",
                      ln.row)
        elif abs(printed - float(ln.fee)) > FEE_RATE_TOL:
            self.flag("MISMATCH_FEE_RATE", ln.sku_id, ln.program,
                      f"fee_rate printed {text}, recomputed {sem.show(ln.fee)} (enrolled in "
                      "every program of this SKU counted, non-stacking)", ln.row)

    def check_change(self, ln: Line) -> None:
        """A printed `change` (SPEC 6.1): keep for a continuing row, reprice for another row of
        a pair enrolled today, new otherwise. Plans written before the column are not checked."""
        if "change" not in ln.printed:
            return
        printed = (ln.printed.get("change") or "").strip()
        want = change_of(self.world, ln)
        if printed != want:
            today = self.world.current.get((ln.sku_id, ln.program))
            was = ("not enrolled today" if today is None else
                   f"enrolled today at {sem.yuan(today.price_fen)}")
            self.flag("MISMATCH_CHANGE", ln.sku_id, ln.program,
                      f"change printed {printed!r}, recomputed {want!r} ({was})", ln.row)

    def _compare_printed(self, ln: Line, col: str, true: float, tol: float) -> None:
        text = ln.printed.get(col)
        printed = _number(text)
        if printed is None:
            if col in ln.printed:
                self.flag("BAD_VALUE", ln.sku_id, ln.program, f"row {ln.row}: {col} {text!r}",
                          ln.row)
            return
        if not sem.close(printed, true, tol):
            self.flag(f"MISMATCH_{col.upper()}", ln.sku_id, ln.program,
                      f"{col} printed {text}, recomputed {true:.6f}", ln.row)

    ROW_CHECKS: tuple[Callable[[_Audit, Line], None], ...] = (
        check_offer, check_merchant_rules, check_sku_rules, check_price_lattice,
        check_price_caps, check_min_margin, check_printed, check_change,
    )
    # the rules alone, for rows that carry no printed figures (audit_world(printed=False))
    RULE_ROW_CHECKS: tuple[Callable[[_Audit, Line], None], ...] = (
        check_merchant_rules, check_sku_rules, check_price_lattice, check_price_caps,
        check_min_margin,
    )

    # -- plan checks ----------------------------------------------------------------------

    def check_stock(self, lines: list[Line]) -> None:
        sold: dict[str, float] = {}
        for ln in lines:
            if ln.eco is not None:
                sold[ln.sku_id] = sold.get(ln.sku_id, 0.0) + ln.eco.units
        for sku_id, total in sold.items():
            sku = self.world.skus[sku_id]
            limit = sem.stock_limit(self.world, sku)
            if sem.exceeds(total, limit):
                self.flag("STOCK", sku_id, None,
                          f"units {total:.3f} over all programs > stock {sem.show(sku.stock)} - "
                          f"{sem.show(self.world.constraints.stock_reserve_days)} reserve days x "
                          f"{sem.show(sku.daily_units)} daily units = {limit:.3f}")

    def check_all_or_none(self, lines: list[Line]) -> None:
        """Per offer and offer-selection program: its eligible SKUs are all in, or none."""
        inside = {(ln.sku_id, ln.program) for ln in lines}
        for pid, prog in self.world.programs.items():
            if prog.selection != "offer":
                continue
            for offer_id, skus in self._offers.items():
                group = [s for s in skus if sem.eligible(self.world, pid, s)]
                taken = [s.sku_id for s in group if (s.sku_id, pid) in inside]
                if not taken:
                    continue
                for s in group:
                    if (s.sku_id, pid) not in inside:
                        self.flag("ALL_OR_NONE", s.sku_id, pid,
                                  f"offer {offer_id} has {', '.join(taken)} in {pid} (all or "
                                  f"none) but its eligible SKU {s.sku_id} is not")

    def check_exclusive(self, lines: list[Line]) -> None:
        by_offer: dict[str, dict[str, list[str]]] = {}
        first_row: dict[tuple[str, str], int] = {}  # (offer, program) -> its first plan row
        for ln in lines:
            by_offer.setdefault(ln.sku.offer_id, {}).setdefault(ln.program, []).append(ln.sku_id)
            first_row.setdefault((ln.sku.offer_id, ln.program), ln.row)
        pids = list(self.world.programs)
        for offer_id, progs in by_offer.items():
            for i, a in enumerate(pids):
                for b in pids[i + 1:]:
                    if a in progs and b in progs and self.world.exclusive(a, b):
                        self.flag("EXCLUSIVE", progs[a][0], a,
                                  f"offer {offer_id} has {', '.join(progs[a])} in {a} and "
                                  f"{', '.join(progs[b])} in {b}, exclusive at offer level",
                                  first_row[(offer_id, a)])

    def check_max_skus(self, lines: list[Line]) -> None:
        for pid, limit in self.world.constraints.max_skus.items():
            n = sum(1 for ln in lines if ln.program == pid)
            if n > limit:
                self.flag("MAX_SKUS", None, pid, f"{n} SKUs enrolled > max_skus {limit}")

    def check_discount_budget(self, lines: list[Line]) -> None:
        budget = self.world.constraints.discount_budget
        total = sum(ln.eco.discount for ln in lines if ln.eco is not None)
        if budget is not None and sem.exceeds(total, float(budget)):
            self.flag("DISCOUNT_BUDGET", None, None, f"sum units x (market_price - price) = "
                      f"{total:.4f} yuan > discount_budget {sem.show(budget)}")

    def counted_gmv(self, lines: list[Line]) -> float:
        """The GMV 1688 counts (yuan): merchant.baseline_gmv plus units x price over the lines
        of programs whose orders are 1688 trades (counts_toward_gmv; not AliExpress)."""
        baseline = self.world.merchant.get("baseline_gmv") or 0
        return float(baseline) + sum(
            ln.eco.revenue for ln in lines
            if ln.eco is not None and ln.program in self.world.programs
            and self.world.programs[ln.program].counts_toward_gmv)

    def check_gmv_min(self, lines: list[Line]) -> None:
        target = self.world.constraints.gmv_min
        total = self.counted_gmv(lines)
        if target is not None and sem.exceeds(float(target), total):
            self.flag("GMV_MIN", None, None,
                      f"baseline_gmv + sum units x price of the counting programs = "
                      f"{total:.4f} yuan < gmv_min {sem.show(target)}")

    PLAN_CHECKS: tuple[Callable[[_Audit, list[Line]], None], ...] = (
        check_stock, check_all_or_none, check_exclusive, check_max_skus, check_discount_budget,
        check_gmv_min, check_locked,
    )

    # -- report ---------------------------------------------------------------------------

    def report(self, lines: list[Line]) -> AuditReport:
        programs = {}
        for pid in self.world.programs:
            mine = [ln for ln in lines if ln.program == pid]
            ecos = [ln.eco for ln in mine if ln.eco is not None]
            programs[pid] = ProgramTotals(
                enrolled_skus=len(mine), units=sum(e.units for e in ecos),
                revenue=sum(e.revenue for e in ecos), fees=sum(e.fees for e in ecos),
                margin=sum(e.margin for e in ecos))
        ecos = [ln.eco for ln in lines if ln.eco is not None]
        gmv, discount = sum(e.revenue for e in ecos), sum(e.discount for e in ecos)
        c = self.world.constraints
        constraints: dict[str, dict[str, float]] = {
            f"max_skus.{pid}": {"value": sum(1 for ln in lines if ln.program == pid),
                                "limit": limit}
            for pid, limit in c.max_skus.items()}
        if c.discount_budget is not None:
            constraints["discount_budget"] = {"value": round(discount, 2),
                                              "limit": float(c.discount_budget)}
        if c.gmv_min is not None:
            constraints["gmv_min"] = {"value": round(self.counted_gmv(lines), 2),
                                      "limit": float(c.gmv_min)}
        return AuditReport(
            scenario=self.world.name, violations=self.violations,
            objective=sum(e.margin for e in ecos), programs=programs, gmv=gmv,
            gmv_counted=self.counted_gmv(lines),
            discount=discount, relative_gap=self.world.relative_gap, lines=lines,
            constraints=constraints, locked=self.locked,
            changes=changes_of(self.world, lines))
