"""summary.json checked against an audit's recomputation (SPEC 5): objective, bound, gap, status,
the per-program figures and the constraint values a solve printed.

Split from auditor.py, which recomputes the plan; this only compares. Like the rest of
optimizer.audit it imports nothing of the optimiser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optimizer.audit import semantics as sem
from optimizer.audit.auditor import MONEY_TOL, UNITS_TOL, AuditReport, Violation

OBJECTIVE_REL_TOL = 1e-6
OBJECTIVE_ABS_TOL = 0.01
GAP_TOL = 1e-9
SUMMARY_DIGITS_SLACK = 1e-6  # objective and bound are printed to 6 decimals: their share of gap
STATUSES = ("OPTIMAL", "FEASIBLE", "INFEASIBLE", "NO_SOLUTION")


def audit_summary(summary_json: Path | str | Mapping[str, Any],
                  report: AuditReport) -> list[Violation]:
    """Check summary.json (a path or its parsed content) against an audit's recomputation."""
    if isinstance(summary_json, Mapping):
        summary: Mapping[str, Any] = summary_json
    else:
        summary = json.loads(Path(summary_json).read_text(encoding="utf-8"))
    out: list[Violation] = []
    status = summary.get("status")
    if status not in STATUSES:
        out.append(Violation("SUMMARY_STATUS", None, None, f"status {status!r} is not one of "
                             f"{', '.join(STATUSES)}"))
        return out
    if status in ("INFEASIBLE", "NO_SOLUTION"):
        if report.lines:
            out.append(Violation("SUMMARY_STATUS", None, None,
                                 f"status {status} but the plan has {len(report.lines)} rows"))
        return out
    out += _summary_objective(summary, report)
    out += _summary_bound_gap_status(summary, report)
    out += _summary_programs(summary, report)
    out += _summary_constraints(summary, report)
    out += _summary_changes(summary, report)
    return out


def _summary_changes(summary: Mapping[str, Any], report: AuditReport) -> list[Violation]:
    """summary.json `changes` (SPEC 6.1) against the plan's rows and today's enrollments; a
    summary written before the key is not checked."""
    given = summary.get("changes")
    if given is None:
        return []
    if not isinstance(given, Mapping) or dict(given) != report.changes:
        return [Violation("SUMMARY_CHANGES", None, None,
                          f"changes {given}, recomputed {report.changes}")]
    return []


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _summary_objective(summary: Mapping[str, Any], report: AuditReport) -> list[Violation]:
    objective = _float(summary.get("objective"))
    tol = OBJECTIVE_ABS_TOL + OBJECTIVE_REL_TOL * abs(report.objective)
    if objective is None or abs(objective - report.objective) > tol:
        return [Violation("SUMMARY_OBJECTIVE", None, None, f"objective {objective}, recomputed "
                          f"from the plan rows {report.objective:.6f}")]
    return []


def _summary_bound_gap_status(summary: Mapping[str, Any],
                              report: AuditReport) -> list[Violation]:
    """bound >= objective; gap = (bound-objective)/max(|objective|,1); OPTIMAL needs gap ok."""
    objective = _float(summary.get("objective"))
    bound = _float(summary.get("bound"))
    if bound is None:
        if summary.get("status") == "OPTIMAL":
            return [Violation("SUMMARY_BOUND", None, None, "OPTIMAL without a bound")]
        return []
    out = []
    tol = OBJECTIVE_ABS_TOL + OBJECTIVE_REL_TOL * abs(report.objective)
    if bound < report.objective - tol:
        out.append(Violation("SUMMARY_BOUND", None, None, f"bound {bound} < objective "
                             f"{report.objective:.6f} (recomputed)"))
    if objective is None:
        return out
    gap = (bound - objective) / max(abs(objective), 1.0)
    printed_gap = _float(summary.get("gap"))
    slack = GAP_TOL + SUMMARY_DIGITS_SLACK / max(abs(objective), 1.0)
    if printed_gap is None or abs(printed_gap - gap) > slack:
        out.append(Violation("SUMMARY_GAP", None, None, f"gap {printed_gap}, but (bound - "
                             f"objective)/max(|objective|,1) = {gap:.3g}"))
    if summary.get("status") == "OPTIMAL" and gap > report.relative_gap + slack:
        out.append(Violation("SUMMARY_STATUS", None, None, f"OPTIMAL with gap {gap:.3g} > "
                             f"solver.relative_gap {report.relative_gap}"))
    return out


def _summary_programs(summary: Mapping[str, Any], report: AuditReport) -> list[Violation]:
    out = []
    given: Mapping[str, Any] = summary.get("programs") or {}
    for pid, totals in report.programs.items():
        fig = given.get(pid)
        if not isinstance(fig, Mapping):
            if totals.enrolled_skus:
                out.append(Violation("SUMMARY_PROGRAM", None, pid, "missing from the summary"))
            continue
        if fig.get("enrolled_skus") != totals.enrolled_skus:
            out.append(Violation("SUMMARY_PROGRAM", None, pid, f"enrolled_skus "
                                 f"{fig.get('enrolled_skus')}, plan has {totals.enrolled_skus}"))
        for key, tol in (("units", UNITS_TOL), ("revenue", MONEY_TOL), ("fees", MONEY_TOL),
                         ("margin", MONEY_TOL)):
            value, true = _float(fig.get(key)), float(getattr(totals, key))
            if value is None or not sem.close(value, true, tol):
                out.append(Violation("SUMMARY_PROGRAM", None, pid,
                                     f"{key} {fig.get(key)}, recomputed {true:.6f}"))
    for pid, fig in given.items():
        if pid not in report.programs and isinstance(fig, Mapping) and fig.get("enrolled_skus"):
            out.append(Violation("SUMMARY_PROGRAM", None, pid, "not an active program"))
    return out


def _summary_constraints(summary: Mapping[str, Any], report: AuditReport) -> list[Violation]:
    """The constraint values the summary reports, where it reports them."""
    given: Mapping[str, Any] = summary.get("constraints") or {}
    expected: dict[str, tuple[float, float]] = {
        "gmv_min": (report.gmv_counted, MONEY_TOL), "discount_budget": (report.discount, MONEY_TOL)}
    for pid, totals in report.programs.items():
        expected[f"max_skus.{pid}"] = (float(totals.enrolled_skus), 0.0)
    out = []
    for key, entry in given.items():
        if key not in expected or not isinstance(entry, Mapping):
            continue
        true, tol = expected[key]
        value = _float(entry.get("value"))
        if value is None or not sem.close(value, true, tol):
            out.append(Violation("SUMMARY_CONSTRAINT", None, None,
                                 f"{key} value {entry.get('value')}, recomputed {true:.6f}"))
        if key == "gmv_min" and "counted_programs" in entry:
            out += _summary_gmv_counted(entry, report)
    return out


def _summary_gmv_counted(entry: Mapping[str, Any], report: AuditReport) -> list[Violation]:
    """gmv_min's breakdown: counted_revenue is the recomputed revenue of the programs it names,
    and baseline + that is the 通天 GMV recomputed (a list naming AliExpress, or a baseline
    that is not the scenario's, does not add up)."""
    listed = entry.get("counted_programs")
    baseline, counted = _float(entry.get("baseline")), _float(entry.get("counted_revenue"))
    if (not isinstance(listed, list) or baseline is None or counted is None
            or not all(isinstance(p, str) for p in listed)):
        return [Violation("SUMMARY_CONSTRAINT", None, None, "gmv_min: baseline, counted_revenue "
                          "and counted_programs must be two numbers and a list of programs")]
    out = []
    revenue = sum(float(report.programs[p].revenue) for p in listed if p in report.programs)
    if not sem.close(counted, revenue, MONEY_TOL):
        out.append(Violation("SUMMARY_CONSTRAINT", None, None, f"gmv_min counted_revenue "
                             f"{counted}, recomputed revenue of {', '.join(listed) or 'none'} "
                             f"{revenue:.6f}"))
    if not sem.close(baseline + revenue, report.gmv_counted, MONEY_TOL):
        out.append(Violation("SUMMARY_CONSTRAINT", None, None, f"gmv_min baseline {baseline} + "
                             f"revenue of the counted programs {revenue:.6f} is not the 通天 GMV "
                             f"recomputed {report.gmv_counted:.6f}"))
    return out
