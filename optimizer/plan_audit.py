"""`enroll-opt audit SCENARIO PLAN`: any plan checked against every rule (SPEC 6.2).

Outside optimizer/audit/ (hence its name: tests/test_layers.py holds every optimizer.audit*
module to importing nothing of the rest), because it reads files as every command does.

The checking is optimizer.audit's, which shares no code with the optimiser; this module only
reads PLAN (plan.csv with English or Chinese headers, or plan.xlsx), hands its (sku_id, program,
price) rows to the auditor, maps the auditor's findings to the SPEC's rule codes and writes
audit.csv and audit.json as one output set. The scenario is validated by the normal loader
first, so bad input is reported exactly as `solve` reports it (exit 2, nothing written).

Current enrollments (SPEC 6.1) are the auditor's too: continuing rows sell the whole horizon,
LOCKED is a no_exit row dropped or repriced, and the rules a continuing no_exit row now breaks
are listed with " (locked: no_exit)" and counted apart (`locked_warnings`): the plan could not
do otherwise, so they do not fail the audit on their own.

Several months (SPEC 6.3, `periods:`): the plan's `period` column says each row's month; each
month is audited as a full plan with its own programs and constraints, its caps moved by the
month before and the month before's plan as its today (optimizer.audit.months). audit.csv
gains `period`, audit.json `periods`. `--optimum` is refused: several months are not solved yet.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from optimizer.audit import (
    AuditInputError,
    AuditReport,
    Month,
    MonthAudit,
    Violation,
    World,
    audit_months,
    audit_world,
    load_months,
    load_world,
)
from optimizer.load.errors import InputError, InputProblem
from optimizer.load.files import MB, read_input
from optimizer.outdir import OUTPUT_FILES, check_outdir, output_set, strict_json
from optimizer.plan.lang import header

log = logging.getLogger(__name__)

# The rule codes of audit.csv (SPEC 6.2), in the order audit.json counts them. LOCKED: a no_exit
# row of today's enrollments missing from the plan or repriced (SPEC 6.1).
RULES = ("UNKNOWN_SKU", "UNKNOWN_PROGRAM", "DUPLICATE", "MERCHANT_RULE", "SKU_RULE", "PRICE_CAP",
         "PRICE_STEP", "MARGIN", "STOCK", "EXCLUSIVE", "ALL_OR_NONE", "MAX_SKUS",
         "DISCOUNT_BUDGET", "GMV_MIN", "LOCKED")
LOCKED_SUFFIX = " (locked: no_exit)"  # the detail of a rule a continuing no_exit row breaks
# The auditor's codes that are not already the SPEC's: a price under 1 fen is off the price
# lattice; the margin rule is MIN_MARGIN there.
_SPEC_CODE = {"PRICE_MIN": "PRICE_STEP", "MIN_MARGIN": "MARGIN"}
AUDIT_COLUMNS = ("sku_id", "program", "price", "rule", "detail")
READ_COLUMNS = ("sku_id", "program", "price")  # everything else of a plan is recomputed
PERIOD = "period"
MAX_PRICE = 10**12  # yuan: the money limit of every input (README: Limits on inputs)
MAX_DIGITS = 30  # decimals of a price: more would make the auditor's exact fractions huge
PLAN_LIMITS = {"csv": 2048 * MB, "xlsx": 256 * MB}  # xlsx is read whole into memory
_ZIP_MAGIC = b"PK\x03\x04"
_PLAN_SHEETS = ("plan", "报名方案")  # word("plan", lang): the plan sheet, then "plan (2)", ...


@dataclass(frozen=True)
class AuditOutcome:
    """What the command prints and its exit status (the CLI maps `ok` to 0 or 5)."""

    ok: bool
    outdir: Path
    text: str
    summary: dict[str, Any]


# ------------------------------------------------------------------------------ reading PLAN

def _column_names() -> dict[str, str]:
    """Header text (English or Chinese, as `solve --lang` writes it) -> column."""
    names = {c: c for c in (*READ_COLUMNS, PERIOD)}
    names.update({header(c, "zh"): c for c in READ_COLUMNS})
    return names


def _columns(file: str, head: Sequence[Any],
             months: Sequence[str] | None = None) -> dict[str, int]:
    """The read columns' positions, or InputError naming the missing ones (`period` too when
    the scenario plans several months)."""
    names = _column_names()
    found: dict[str, int] = {}
    for i, cell in enumerate(head):
        col = names.get(str(cell if cell is not None else "").strip())
        if col is not None and col not in found:
            found[col] = i
    missing = [c for c in READ_COLUMNS if c not in found]
    problems = [InputProblem(file, "line 1", c, "missing column (plan.csv or plan.xlsx headers "
                             f"in English or Chinese: {c} or {header(c, 'zh')})")
                for c in missing]
    if months is not None and len(months) > 1 and PERIOD not in found:
        problems.append(InputProblem(file, "line 1", PERIOD, "missing column: the scenario plans "
                                     f"{len(months)} months ({_names(months)}), each row says "
                                     "which"))
    if problems:
        raise InputError(problems)
    return found


def _names(months: Sequence[str]) -> str:
    shown = ", ".join(months[:6])
    return shown + (", ..." if len(months) > 6 else "")


def _text(value: Any) -> str:
    """A cell as text: a number from xlsx as its shortest decimal (8.99, not 8.9900000001)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _rows(file: str, table: Iterator[Sequence[Any]], where: str,
          months: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Header + rows -> the plan's rows, prices checked readable (InputError naming each).
    `months`: the scenario's month names (SPEC 6.3): each row's period is one of them (an
    empty period is the only month's of a one-month list)."""
    head = next(table, None)
    if head is None:
        raise InputError.one(file, "", "", "empty: no header line")
    cols = _columns(file, head, months)
    rows: list[dict[str, str]] = []
    problems: list[InputProblem] = []
    for n, cells in enumerate(table, start=1):
        if not any(_text(c) for c in cells):
            continue
        row = {c: _text(cells[i]) if i < len(cells) else "" for c, i in cols.items()}
        try:
            price = Decimal(row["price"])
            if not price.is_finite() or int(price.as_tuple().exponent) < -MAX_DIGITS:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(InputProblem(file, f"{where} {n}", "price",
                                         f"{row['price']!r} is not a price in yuan"))
            price = Decimal(0)
        if price.copy_abs() > MAX_PRICE:  # abs() would round, and overflow at 1e999999999
            problems.append(InputProblem(file, f"{where} {n}", "price", f"{row['price']} is "
                                         f"beyond {MAX_PRICE:,} yuan (README: Limits on inputs)"))
        if months is not None:
            if len(months) == 1 and not row.get(PERIOD):
                row[PERIOD] = months[0]
            if row.get(PERIOD) not in months:
                problems.append(InputProblem(
                    file, f"{where} {n}", PERIOD, f"{row.get(PERIOD, '')!r} is not one of the "
                    f"scenario's months ({_names(months)})"))
        rows.append(row)
    if problems:
        raise InputError(problems)
    if months is not None:
        return rows
    periods = sorted({r.get(PERIOD, "") for r in rows})
    if len(periods) > 1:
        raise InputError.one(file, "", PERIOD, f"the plan has {len(periods)} periods "
                             f"({', '.join(periods[:5])}); the scenario plans one")
    return rows


def read_plan(path: Path, months: Sequence[str] | None = None) -> list[dict[str, str]]:
    """PLAN's rows as {sku_id, program, price[, period]} text. InputError (exit 2) for a file
    that is missing, no regular file, too big, unreadable, or lacks a column or a price.
    `months`: the names of the scenario's months (SPEC 6.3): every row's period is one of
    them (a missing column or an unknown period is InputError naming the row)."""
    file = str(path)
    probe = read_input(path, "plan", PLAN_LIMITS["xlsx"] if path.suffix.lower() == ".xlsx"
                       else PLAN_LIMITS["csv"])
    if path.suffix.lower() == ".xlsx" or probe.startswith(_ZIP_MAGIC):
        return _read_xlsx(file, probe, months)
    try:
        text = probe.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = probe[: exc.start].count(b"\n") + 1
        raise InputError.one(file, f"line {line}", "", "not UTF-8 text (plan.csv is UTF-8, "
                             "with or without BOM)") from None
    try:
        return _rows(file, iter(csv.reader(io.StringIO(text, newline=""))), "row", months)
    except csv.Error as exc:
        raise InputError.one(file, "", "", f"not a CSV file: {exc}") from None


def _read_xlsx(file: str, data: bytes,
               months: Sequence[str] | None = None) -> list[dict[str, str]]:
    """The plan sheet (and its continuations "plan (2)", ...) of a workbook; else the first."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError.one(file, "", "", f"not a readable xlsx workbook: {exc}") from None
    try:
        names = book.sheetnames
        base = next((s for s in _PLAN_SHEETS if s in names), names[0])
        sheets = [base, *(f"{base} ({k})" for k in range(2, len(names) + 1)
                          if f"{base} ({k})" in names)]
        rows: list[dict[str, str]] = []
        for name in sheets:
            table = book[name].iter_rows(values_only=True)
            rows += _rows(f"{file} (sheet {name})", table, "row", months)
        return rows
    finally:
        book.close()


# ------------------------------------------------------------------------------ the findings

def spec_code(v: Violation) -> str | None:
    """The SPEC 6.2 rule code of a finding (None: not a rule, e.g. a printed-figure check)."""
    code = _SPEC_CODE.get(v.code, v.code)
    return code if code in RULES else None


def _detail(v: Violation) -> str:
    """The auditor's message without the "row N: " it prefixes for the console (audit.csv has
    the row's own columns)."""
    head, sep, rest = v.message.partition(": ")
    return rest if sep and head.startswith("row ") and head[4:].isdigit() else v.message


def findings(report: AuditReport, rows: Sequence[Mapping[str, str]]) -> list[list[str]]:
    """audit.csv rows: the broken rules of plan rows in plan order, then the plan-wide ones
    (a LOCKED row the plan lacks with today's price). Rules broken by continuing no_exit rows
    are among them, their detail ending " (locked: no_exit)"."""
    out: list[tuple[int, list[str]]] = []
    for v in [*report.violations, *report.locked]:
        code = spec_code(v)
        if code is None:
            continue
        price = (v.price if v.price is not None
                 else rows[v.row - 1]["price"] if v.row is not None else "")
        order = v.row if v.row is not None else len(rows) + 1
        detail = _detail(v) + (LOCKED_SUFFIX if v.locked else "")
        out.append((order, [v.sku_id or "", v.program or "", price, code, detail]))
    out.sort(key=lambda item: item[0])  # stable: within a row, the auditor's order of checks
    return [line for _, line in out]


def _money(x: float) -> float:
    return round(x, 2) + 0.0  # no -0.0


def summary(report: AuditReport, broken: Sequence[Sequence[str]], plan: Path,
            world: World | None = None) -> dict[str, Any]:
    """audit.json: per rule its count, the recomputed figures, the global constraints. With the
    auditor's `world`, as summary.json says them: per program whether it counts toward the 通天
    target, and gmv_min's baseline, counted revenue and counted programs. The rules continuing
    no_exit rows break are counted apart (`locked_warnings`, per rule) and leave `ok` true: the
    plan could not do otherwise (SPEC 6.1)."""
    counts = dict.fromkeys(RULES, 0)
    locked = dict.fromkeys(RULES, 0)
    for line in broken:
        (locked if line[4].endswith(LOCKED_SUFFIX) else counts)[line[3]] += 1
    n_broken = sum(counts.values())
    programs: dict[str, dict[str, Any]] = {
        pid: {"enrolled_skus": t.enrolled_skus, "units": round(t.units, 3),
              "revenue": _money(t.revenue), "fees": _money(t.fees), "margin": _money(t.margin)}
        for pid, t in report.programs.items()}
    constraints: dict[str, dict[str, Any]] = {k: dict(v) for k, v in report.constraints.items()}
    if world is not None:
        counted = [pid for pid in programs if world.programs[pid].counts_toward_gmv]
        for pid, p in programs.items():
            p["counts_toward_gmv"] = pid in counted
        if "gmv_min" in constraints:
            baseline = float(world.merchant.get("baseline_gmv") or 0)
            constraints["gmv_min"].update(
                baseline=_money(baseline),
                counted_revenue=_money(sum(report.programs[pid].revenue for pid in counted)),
                counted_programs=counted)
    total = {"enrolled_skus": len(report.lines),
             "units": round(sum(t.units for t in report.programs.values()), 3),
             "revenue": _money(report.gmv),
             "fees": _money(sum(t.fees for t in report.programs.values())),
             "margin": _money(report.objective)}
    return {"scenario": report.scenario, "plan": str(plan), "ok": not n_broken,
            "broken_rules": n_broken, "rules": counts,
            "locked_warnings": {code: n for code, n in locked.items() if n},
            "programs": programs, "total": total, "constraints": constraints}


# ------------------------------------------------------------------------------ the command

def _outdir(outdir: Path | None, name: str, plan: Path) -> Path:
    """-o, or out/<scenario name>-audit/; never the folder whose plan.csv is being audited (its
    set would replace the plan)."""
    from optimizer.pipeline import safe_folder_name

    out = outdir if outdir is not None else Path("out") / f"{safe_folder_name(name)}-audit"
    check_outdir(out)
    if (plan.absolute().parent == out.absolute() and plan.name in OUTPUT_FILES):
        raise InputError.one("-o", "", "", f"{out} holds the plan being audited ({plan.name}), "
                             "which an audit's files would replace: choose another folder")
    return out


def run_audit(scenario_path: Path, plan_path: Path, outdir: Path | None = None, *,
              optimum: bool = False) -> AuditOutcome:
    """Audit PLAN against SCENARIO and write audit.csv and audit.json. InputError on bad input
    (nothing written)."""
    from optimizer.prepare import load_inputs

    # the product's validation: bad input named as solve does; several months are checked here
    loaded = load_inputs(scenario_path, several_months=True)
    plan_path = Path(plan_path)
    out = _outdir(outdir, loaded.scenario.name, plan_path)
    try:
        months = load_months(Path(scenario_path))
    except AuditInputError as exc:
        raise InputError.one(scenario_path, "", "", f"the auditor cannot read it: {exc}") from None
    if months is not None:
        if optimum:
            raise InputError.one("--optimum", "", "", "the scenario plans several months "
                                 "(periods:), which are not solved yet (issue 16): audit "
                                 "without --optimum")
        head, broken, doc = _audit_months(months, plan_path)
    else:
        rows = read_plan(plan_path)
        try:
            world = load_world(Path(scenario_path))
        except AuditInputError as exc:
            raise InputError.one(scenario_path, "", "",
                                 f"the auditor cannot read it: {exc}") from None
        report = audit_world(world, rows, printed=False)
        head, broken = AUDIT_COLUMNS, findings(report, rows)
        doc = summary(report, broken, plan_path, world)
        if optimum:
            doc.update(_optimum(loaded, report.objective, bool(doc["ok"])))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    writer.writerows(broken)
    with output_set(out, "audit") as stage:  # one run a folder: a solve's files are removed
        stage.write("audit.csv", buf.getvalue().encode("utf-8"))
        stage.write("audit.json", strict_json(doc).encode("utf-8"))
    return AuditOutcome(bool(doc["ok"]), out, _text_summary(doc, out), doc)


def _audit_months(months: Sequence[Month], plan_path: Path
                  ) -> tuple[tuple[str, ...], list[list[str]], dict[str, Any]]:
    """SPEC 6.3: each month's rows audited as a full plan, in order, each against what the
    month before left (moved 30-day minima, its plan as today). audit.csv gains `period` (its
    first column); audit.json gains `periods`, one entry per month with its figures, rules and
    constraints, beside the totals over the horizon."""
    names = [m.name for m in months]
    rows = read_plan(plan_path, names)
    by_month: dict[str, list[dict[str, str]]] = {n: [] for n in names}
    numbers: dict[str, list[int]] = {n: [] for n in names}
    for i, row in enumerate(rows, start=1):
        by_month[row[PERIOD]].append(row)
        numbers[row[PERIOD]].append(i)
    audits = audit_months(months, [by_month[n] for n in names], [numbers[n] for n in names])
    broken: list[list[str]] = []
    per_month: list[dict[str, Any]] = []
    for a in audits:
        found = findings(a.report, rows)
        broken += [[a.name, *line] for line in found]
        doc = summary(a.report, found, plan_path, a.world)
        per_month.append({"name": a.name, **{k: v for k, v in doc.items()
                                             if k not in ("scenario", "plan")}})
    return (PERIOD, *AUDIT_COLUMNS), broken, _months_summary(per_month, audits, plan_path)


def _months_summary(per_month: Sequence[Mapping[str, Any]], audits: Sequence[MonthAudit],
                    plan: Path) -> dict[str, Any]:
    """audit.json over several months: rule counts, per-program and total figures summed over
    the months (margin: the objective of SPEC 6.3); each month's own, with its constraints
    (they hold per month), under `periods`."""
    rules = {code: sum(m["rules"][code] for m in per_month) for code in RULES}
    locked = {code: n for code in RULES
              if (n := sum(m["locked_warnings"].get(code, 0) for m in per_month))}
    programs: dict[str, dict[str, Any]] = {}
    for a in audits:
        for pid, t in a.report.programs.items():
            p = programs.setdefault(pid, {"enrolled_skus": 0, "units": 0.0, "revenue": 0.0,
                                          "fees": 0.0, "margin": 0.0})
            p["enrolled_skus"] += t.enrolled_skus
            for key in ("units", "revenue", "fees", "margin"):
                p[key] += getattr(t, key)
    for p in programs.values():
        p["units"] = round(p["units"], 3)
        for key in ("revenue", "fees", "margin"):
            p[key] = _money(p[key])
    total = {"enrolled_skus": sum(len(a.report.lines) for a in audits),
             "units": round(sum(t.units for a in audits for t in a.report.programs.values()), 3),
             "revenue": _money(sum(a.report.gmv for a in audits)),
             "fees": _money(sum(t.fees for a in audits for t in a.report.programs.values())),
             "margin": _money(sum(a.report.objective for a in audits))}
    n_broken = sum(rules.values())
    return {"scenario": audits[0].report.scenario, "plan": str(plan), "ok": not n_broken,
            "broken_rules": n_broken, "rules": rules, "locked_warnings": locked,
            "programs": programs, "total": total, "periods": list(per_month)}


def _optimum(loaded: Any, margin: float, ok: bool) -> dict[str, Any]:
    """The scenario solved as `solve` solves it (nothing written): its objective and bound, and
    what the plan leaves on the table (only for a plan that keeps every rule)."""
    import math

    from optimizer.score.problem import build_problem
    from optimizer.solve import FEASIBLE, OPTIMAL, solve

    scenario = loaded.scenario
    pb = build_problem(scenario, loaded.rulebook, loaded.catalogue, loaded.evaluate().rules,
                       current=loaded.current)
    result = solve(pb, scenario.solver)
    has_plan = result.status in (OPTIMAL, FEASIBLE)
    bound = result.bound if math.isfinite(result.bound) else None
    found = {"status": result.status, "objective": round(result.objective, 2) if has_plan
             else None, "bound": round(bound, 2) if bound is not None else None,
             "gap": result.gap if has_plan else None}
    left = _money(result.objective - margin) if ok and has_plan else None
    at_most = _money(bound - margin) if ok and bound is not None else None
    return {"optimum": found, "left_on_table": left, "left_on_table_at_most": at_most}


def _text_summary(doc: Mapping[str, Any], out: Path) -> str:
    lines = [f"{doc['scenario']}: {doc['total']['enrolled_skus']} enrollments, margin "
             f"{doc['total']['margin']:,.2f} yuan (recomputed)"]
    if doc["ok"]:
        lines.append("the plan keeps every rule")
    else:
        counts = ", ".join(f"{c} {n}" for c, n in doc["rules"].items() if n)
        lines.append(f"{doc['broken_rules']} broken rule(s): {counts}")
    if doc["locked_warnings"]:
        counts = ", ".join(f"{c} {n}" for c, n in doc["locked_warnings"].items())
        lines.append(f"rows locked by no_exit (kept as they must be) break: {counts}")
    for month in doc.get("periods", ()):
        state = ("keeps every rule" if month["ok"] else
                 f"{month['broken_rules']} broken rule(s): " + ", ".join(
                     f"{c} {n}" for c, n in month["rules"].items() if n))
        lines.append(f"  month {month['name']}: {month['total']['enrolled_skus']} enrollments, "
                     f"margin {month['total']['margin']:,.2f} yuan; {state}")
    if "optimum" in doc:
        o = doc["optimum"]
        lines.append(f"optimum: {o['status']}, objective {o['objective']}, bound {o['bound']}"
                     + (f", left on the table {doc['left_on_table']:,.2f} yuan"
                        if doc["left_on_table"] is not None else ""))
    lines.append(f"written: {out}/audit.csv, audit.json")
    return "\n".join(lines)
