"""summary.json against the audit's recomputation, and audit() on files end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from optimizer.audit import AuditReport, audit, audit_rows, audit_summary
from tests.audit.conftest import Fill, MakeScenario, hand_rows


def plan(make_scenario: MakeScenario, fill: Fill) -> AuditReport:
    sc = make_scenario([{}, {"sku_id": "S2", "offer_id": "O2"}])
    return audit_rows(sc, fill(sc, [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40"),
                                    ("S2", "huopin", "10.80")]))


def summary_of(report: AuditReport, bound_gap: float = 0.00005,
               status: str = "OPTIMAL") -> dict[str, Any]:
    """A summary.json as the solver would write it (rounded like the writer rounds)."""
    obj = report.objective
    bound = obj + bound_gap * max(abs(obj), 1)
    return {
        "name": report.scenario, "status": status, "objective": round(obj, 6),
        "bound": round(bound, 6), "gap": (bound - obj) / max(abs(obj), 1), "seconds": 0.1,
        "programs": {pid: {"enrolled_skus": t.enrolled_skus, "units": round(t.units, 3),
                           "revenue": round(t.revenue, 2), "fees": round(t.fees, 2),
                           "margin": round(t.margin, 2)} for pid, t in report.programs.items()},
        "constraints": {"max_skus.offsite": {"value": report.programs["offsite"].enrolled_skus,
                                             "limit": 5},
                        "gmv_min": {"value": round(report.gmv_counted, 2), "limit": 0.0}},
    }


def hand_summary(rows: list[dict[str, str]], bound_gap: float, status: str) -> dict[str, Any]:
    """summary.json totalled from hand-computed plan rows (not from the audit report)."""
    programs: dict[str, dict[str, float]] = {}
    for r in rows:
        t = programs.setdefault(r["program"], {"enrolled_skus": 0, "units": 0.0, "revenue": 0.0,
                                               "fees": 0.0, "margin": 0.0})
        t["enrolled_skus"] += 1
        for key in ("units", "revenue", "fees", "margin"):
            t[key] += float(r[key])
    obj = sum(float(r["margin"]) for r in rows)
    bound = obj + bound_gap * max(abs(obj), 1)
    gmv = sum(float(r["revenue"]) for r in rows)  # every program here counts toward GMV
    return {"name": "tiny", "status": status, "objective": round(obj, 6), "bound": round(bound, 6),
            "gap": (bound - obj) / max(abs(obj), 1), "seconds": 0.1,
            "programs": {k: {**t, "units": round(t["units"], 3), "revenue": round(t["revenue"], 2),
                             "fees": round(t["fees"], 2), "margin": round(t["margin"], 2)}
                         for k, t in programs.items()},
            "constraints": {"max_skus.offsite": {"value": programs["offsite"]["enrolled_skus"],
                                                 "limit": 5},
                            "gmv_min": {"value": round(gmv, 2), "limit": 0.0}}}


def test_consistent_summary_passes(make_scenario: MakeScenario) -> None:
    """A summary totalled by hand from hand-computed rows (independent of the auditor) passes,
    as OPTIMAL within the gap and as FEASIBLE outside it; its objective 1 yuan off does not."""
    skus = {"S1": {}, "S2": {"sku_id": "S2", "offer_id": "O2"}}
    sc = make_scenario(list(skus.values()))
    rows = hand_rows(skus, [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40"),
                            ("S2", "huopin", "10.80")])
    report = audit_rows(sc, rows)
    assert report.ok, report.format()
    assert audit_summary(hand_summary(rows, 0.00005, "OPTIMAL"), report) == []
    assert audit_summary(hand_summary(rows, 0.01, "FEASIBLE"), report) == []
    off = hand_summary(rows, 0.00005, "OPTIMAL")
    off["objective"] += 1
    assert "SUMMARY_OBJECTIVE" in {v.code for v in audit_summary(off, report)}


@pytest.mark.parametrize(("change", "code"), [
    ({"objective": "+1"}, "SUMMARY_OBJECTIVE"),
    ({"bound": "-100"}, "SUMMARY_BOUND"),
    ({"bound": None}, "SUMMARY_BOUND"),
    ({"gap": "+0.001"}, "SUMMARY_GAP"),
    ({"status": "SOLVED"}, "SUMMARY_STATUS"),
    ({"status": "INFEASIBLE"}, "SUMMARY_STATUS"),
])
def test_summary_headline_checks(make_scenario: MakeScenario, fill: Fill,
                                 change: dict[str, Any], code: str) -> None:
    report = plan(make_scenario, fill)
    summary = summary_of(report)
    for key, value in change.items():
        if isinstance(value, str) and value[0] in "+-":
            summary[key] += float(value)
        else:
            summary[key] = value
    assert code in {v.code for v in audit_summary(summary, report)}


def test_optimal_needs_the_gap(make_scenario: MakeScenario, fill: Fill) -> None:
    report = plan(make_scenario, fill)  # relative_gap 0.0001 (default)
    [v] = audit_summary(summary_of(report, 0.01, "OPTIMAL"), report)
    assert v.code == "SUMMARY_STATUS"


@pytest.mark.parametrize(("key", "delta"), [
    ("enrolled_skus", 1), ("units", 0.01), ("revenue", 0.02), ("fees", -0.02), ("margin", 0.5),
])
def test_summary_program_figures(make_scenario: MakeScenario, fill: Fill, key: str,
                                 delta: float) -> None:
    report = plan(make_scenario, fill)
    summary = summary_of(report)
    summary["programs"]["yanxuan"][key] += delta
    assert [(v.code, v.program) for v in audit_summary(summary, report)] == [
        ("SUMMARY_PROGRAM", "yanxuan")]


def test_summary_constraint_values(make_scenario: MakeScenario, fill: Fill) -> None:
    report = plan(make_scenario, fill)
    summary = summary_of(report)
    summary["constraints"]["gmv_min"]["value"] += 5
    assert [v.code for v in audit_summary(summary, report)] == ["SUMMARY_CONSTRAINT"]


def test_audit_files_end_to_end(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario([{}, {"sku_id": "S2", "offer_id": "O2"}])
    rows = fill(sc, [("S1", "offsite", "8.99"), ("S2", "offsite", "9.00")])
    out = sc.parent / "out"
    out.mkdir()
    with (out / "plan.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = audit(sc, out / "plan.csv")
    assert [(v.code, v.sku_id) for v in report.violations] == [("PRICE_CAP", "S2")]
    assert "PRICE_CAP S2 offsite" in report.format()
    (out / "summary.json").write_text(json.dumps(summary_of(report)), "utf-8")
    assert audit_summary(Path(out / "summary.json"), report) == []
