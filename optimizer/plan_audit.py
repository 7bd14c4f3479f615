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
    Violation,
    World,
    audit_world,
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


def _columns(file: str, head: Sequence[Any]) -> dict[str, int]:
    """The read columns' positions, or InputError naming the missing ones."""
    names = _column_names()
    found: dict[str, int] = {}
    for i, cell in enumerate(head):
        col = names.get(str(cell if cell is not None else "").strip())
        if col is not None and col not in found:
            found[col] = i
    missing = [c for c in READ_COLUMNS if c not in found]
    if missing:
        raise InputError([InputProblem(file, "line 1", c, "missing column (plan.csv or plan.xlsx "
                                       f"headers in English or Chinese: {c} or "
                                       f"{header(c, 'zh')})") for c in missing])
    return found


def _text(value: Any) -> str:
    """A cell as text: a number from xlsx as its shortest decimal (8.99, not 8.9900000001)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _rows(file: str, table: Iterator[Sequence[Any]], where: str) -> list[dict[str, str]]:
    """Header + rows -> the plan's rows, prices checked readable (InputError naming each)."""
    head = next(table, None)
    if head is None:
        raise InputError.one(file, "", "", "empty: no header line")
    cols = _columns(file, head)
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
        rows.append(row)
    if problems:
        raise InputError(problems)
    periods = sorted({r.get(PERIOD, "") for r in rows})
    if len(periods) > 1:
        raise InputError.one(file, "", PERIOD, f"the plan has {len(periods)} periods "
                             f"({', '.join(periods[:5])}); the scenario plans one")
    return rows


def read_plan(path: Path) -> list[dict[str, str]]:
    """PLAN's rows as {sku_id, program, price[, period]} text. InputError (exit 2) for a file
    that is missing, no regular file, too big, unreadable, or lacks a column or a price."""
    file = str(path)
    probe = read_input(path, "plan", PLAN_LIMITS["xlsx"] if path.suffix.lower() == ".xlsx"
                       else PLAN_LIMITS["csv"])
    if path.suffix.lower() == ".xlsx" or probe.startswith(_ZIP_MAGIC):
        return _read_xlsx(file, probe)
    try:
        text = probe.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = probe[: exc.start].count(b"\n") + 1
        raise InputError.one(file, f"line {line}", "", "not UTF-8 text (plan.csv is UTF-8, "
                             "with or without BOM)") from None
    try:
        return _rows(file, iter(csv.reader(io.StringIO(text, newline=""))), "row")
    except csv.Error as exc:
        raise InputError.one(file, "", "", f"not a CSV file: {exc}") from None


def _read_xlsx(file: str, data: bytes) -> list[dict[str, str]]:
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
            rows += _rows(f"{file} (sheet {name})", table, "row")
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

    loaded = load_inputs(scenario_path)  # the product's validation: bad input named as solve does
    plan_path = Path(plan_path)
    out = _outdir(outdir, loaded.scenario.name, plan_path)
    rows = read_plan(plan_path)
    try:
        world = load_world(Path(scenario_path))
    except AuditInputError as exc:
        raise InputError.one(scenario_path, "", "", f"the auditor cannot read it: {exc}") from None
    report = audit_world(world, rows, printed=False)
    broken = findings(report, rows)
    doc = summary(report, broken, plan_path, world)
    if optimum:
        doc.update(_optimum(loaded, report.objective, bool(doc["ok"])))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(AUDIT_COLUMNS)
    writer.writerows(broken)
    with output_set(out, "audit") as stage:  # one run a folder: a solve's files are removed
        stage.write("audit.csv", buf.getvalue().encode("utf-8"))
        stage.write("audit.json", strict_json(doc).encode("utf-8"))
    return AuditOutcome(bool(doc["ok"]), out, _text_summary(doc, out), doc)


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
    if "optimum" in doc:
        o = doc["optimum"]
        lines.append(f"optimum: {o['status']}, objective {o['objective']}, bound {o['bound']}"
                     + (f", left on the table {doc['left_on_table']:,.2f} yuan"
                        if doc["left_on_table"] is not None else ""))
    lines.append(f"written: {out}/audit.csv, audit.json")
    return "\n".join(lines)
