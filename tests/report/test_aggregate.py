"""The report's numbers: equal to summary.json, recomputed from plan.csv / excluded.csv / the
catalogue independently of optimizer.report, and never the raw rows."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import optimizer.report.files as report_files
from optimizer.plan.lang import PLAN_COLUMNS
from optimizer.report import aggregate, render_html, write_report
from tests.report.builders import (
    BREAKEVEN,
    BREAKEVEN_ROWS,
    EXCLUDED_HEADER,
    FEE_PATH,
    PLAN_HEADER,
    PLAN_ROWS,
    SWEEP_VALUES,
    sweep_doc,
    write_csv,
    write_solve_folder,
    write_sweep_folder,
)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def embedded(html: str) -> Any:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def test_hand_made_folder_numbers(solve_folder: Path) -> None:
    data = aggregate(solve_folder)
    s = data["solve"]
    summary = json.loads((solve_folder / "summary.json").read_text(encoding="utf-8"))
    assert s["status"] == "FEASIBLE" and s["objective"] == summary["objective"]
    assert s["bound"] == 2600.0 and s["gap"] == 0.0215
    assert s["enrolments"] == 6 and s["enrolled_skus"] == 5  # A1 is in two programs
    assert s["gmv"] == pytest.approx(900 + 380 + 199.5 + 4500 + 1650 + 240)
    assert s["margin"] == pytest.approx(294.6 + 98.72 + 48.33 + 1473 + 640.1)
    assert s["order"] == ["offsite", "yanxuan", "huopin"]
    for pid, p in summary["programs"].items():
        for key in ("enrolled_skus", "units", "revenue", "fees", "margin"):
            assert s["programs"][pid][key] == p[key]
        assert s["plan"]["programs"][pid]["rows"] == p["enrolled_skus"]
        assert s["plan"]["programs"][pid]["revenue"] == pytest.approx(p["revenue"])
    assert data["names"] == {"offsite": "站外分销货源中心", "yanxuan": "严选", "huopin": "伙拼"}
    ex = s["excluded"]
    assert ex["rows"] == 9
    assert ex["reasons"] == ["SKU_RULE", "PRICE_CAP", "EXCLUSIVE", "NOT_CHOSEN"]  # rule order
    assert ex["totals"] == {"SKU_RULE": 2, "PRICE_CAP": 1, "EXCLUSIVE": 4, "NOT_CHOSEN": 2}
    assert ex["by_program"]["offsite"] == {"EXCLUSIVE": 2, "SKU_RULE": 1}
    assert [t["sku_id"] for t in s["plan"]["top"]] == ["B1", "B2", "A1", "A1", "A2", "C1"]
    assert s["price_vs_market"]["programs"]["huopin"]["above"] == 1


def test_tables_in_the_page_show_the_summary(solve_folder: Path) -> None:
    html = render_html(aggregate(solve_folder))
    assert "offsite 站外分销货源中心" in html and "huopin 伙拼" in html and "yanxuan 严选" in html
    for text in ("FEASIBLE", "2,554.75", "2,600.00", "2.1500%", "7,869.50"):
        assert text in html, text
    table = re.search(r'<table id="table-programs">(.*?)</table>', html, re.S)
    assert table and "1,473.00" not in table.group(1)  # a row's margin, not a program's
    assert "2,113.10" in table.group(1)  # huopin: 1473.00 + 640.10


def test_generated_solve_matches_summary_and_files(generated: tuple[Path, Path]) -> None:
    """A real solve: every number equals summary.json or a recomputation from the CSV rows."""
    _, out = generated
    data = aggregate(out)
    s = data["solve"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    plan, excluded = _rows(out / "plan.csv"), _rows(out / "excluded.csv")
    assert plan, "the generated case should enroll something"
    assert s["status"] == summary["status"] and s["objective"] == summary["objective"]
    assert s["enrolments"] == len(plan)
    assert s["enrolled_skus"] == len({r["sku_id"] for r in plan})
    assert s["gmv"] == pytest.approx(sum(p["revenue"] for p in summary["programs"].values()))
    for pid, p in summary["programs"].items():
        mine = [r for r in plan if r["program"] == pid]
        got = s["plan"]["programs"].get(pid, {"rows": 0, "revenue": 0.0, "margin": 0.0})
        assert got["rows"] == len(mine) == p["enrolled_skus"]
        # sums of rows rounded to fen: within half a fen a row of the summary's exact sums
        assert got["revenue"] == pytest.approx(sum(float(r["revenue"]) for r in mine), abs=0.01)
        assert abs(got["revenue"] - p["revenue"]) <= 0.005 * len(mine) + 0.01
        assert abs(got["margin"] - p["margin"]) <= 0.005 * len(mine) + 0.01
        assert data["names"][pid] == p["name_zh"]
    want = Counter((r["program"], r["reason"]) for r in excluded)
    got_pairs = {(p, r): n for p, d in s["excluded"]["by_program"].items() for r, n in d.items()}
    assert got_pairs == dict(want) and s["excluded"]["rows"] == len(excluded)
    top = sorted(plan, key=lambda r: -float(r["margin"]))[:10]
    assert [t["margin"] for t in s["plan"]["top"]] == [float(r["margin"]) for r in top]
    # what the page embeds is this data, and is small: no SKU outside the top ten is in it
    html = (out / "report.html").read_text(encoding="utf-8")
    assert embedded(html) == json.loads(json.dumps(data))
    shown = {t["sku_id"] for t in s["plan"]["top"]}
    hidden = [r["sku_id"] for r in plan if r["sku_id"] not in shown]
    assert hidden and not any(re.search(rf"\b{re.escape(h)}\b", html) for h in hidden[:50])


def test_price_histogram_recomputed_from_catalogue(generated: tuple[Path, Path]) -> None:
    """summary.json's price_vs_market, recomputed from plan.csv prices and the catalogue's
    market prices (exact fen ratios, right-closed bins)."""
    scenario, out = generated
    market = {r["sku_id"]: round(float(r["market_price"]) * 100)
              for r in _rows(scenario.parent / "catalogue.csv")}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    h = summary["price_vs_market"]
    edges = h["edges"]
    assert edges[0] == 0.5 and edges[-1] == 1.0 and len(edges) == 21
    plan = _rows(out / "plan.csv")
    for pid, p in summary["programs"].items():
        counts, below, above = [0] * (len(edges) - 1), 0, 0
        for r in (r for r in plan if r["program"] == pid):
            price, mkt = round(float(r["price"]) * 100), market[r["sku_id"]]
            # bin i holds edges[i] < price / market <= edges[i + 1], compared exactly in fen
            per_mille = [round(e * 1000) for e in edges]
            if price * 1000 <= per_mille[0] * mkt:
                below += 1
            elif price * 1000 > per_mille[-1] * mkt:
                above += 1
            else:
                counts[next(i for i in range(len(counts))
                            if price * 1000 <= per_mille[i + 1] * mkt)] += 1
        hp = h["programs"][pid]
        assert (hp["counts"], hp["below"], hp["above"]) == (counts, below, above), pid
        assert sum(hp["counts"]) + below + above == p["enrolled_skus"]
        assert hp["at_cap"] == sum(hp["at_cap_by"].values()) <= p["enrolled_skus"]


def test_many_batches_give_the_same_numbers(solve_folder: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny CSV blocks: sums, distinct SKUs and the top ten merge across batches."""
    rng = np.random.default_rng(5)
    n = 3000
    progs = np.array(["offsite", "yanxuan", "huopin"])
    p = progs[rng.integers(0, 3, n)]
    sku = np.array([f"S{i // 2:05d}" for i in range(n)])
    margin = np.round(rng.normal(50, 40, n), 2)
    revenue = np.round(rng.uniform(1, 500, n), 2)
    rows = [(sku[i], "O1", p[i], "1.00", "1.000", f"{revenue[i]:.2f}", "0.006", "0.01",
             f"{margin[i]:.2f}") for i in range(n)]
    ex = [(f"X{i}", progs[i % 3], ["SKU_RULE", "NOT_CHOSEN", "EXCLUSIVE"][i % 7 % 3], "d, e")
          for i in range(5000)]
    folder = write_solve_folder(tmp_path / "many", rows, ex)
    monkeypatch.setattr(report_files, "BLOCK_BYTES", 4096)
    batches = list(report_files.batches(folder / "plan.csv", PLAN_COLUMNS[:9],  # before 6.1
                                        {"sku_id": pa.string()}))
    assert len(batches) > 20
    s = aggregate(folder)["solve"]
    assert s["enrolled_skus"] == len(set(sku)) and s["enrolments"] == n
    for pid in progs:
        sel = p == pid
        assert s["plan"]["programs"][pid]["rows"] == int(sel.sum())
        assert s["plan"]["programs"][pid]["margin"] == pytest.approx(margin[sel].sum(), abs=0.006)
    assert [t["margin"] for t in s["plan"]["top"]] == sorted((float(r[8]) for r in rows),
                                                             reverse=True)[:10]
    want = Counter((r[1], r[2]) for r in ex)
    assert {(pp, r): c for pp, d in s["excluded"]["by_program"].items()
            for r, c in d.items()} == dict(want)


def test_large_folder_stays_small(tmp_path: Path) -> None:
    """200k plan rows and 1M excluded rows: counts exact, report.html a few tens of kB."""
    rng = np.random.default_rng(1)
    n, m = 200_000, 1_000_000
    folder = write_solve_folder(tmp_path / "big")
    progs = np.array(["offsite", "yanxuan", "huopin"])
    reasons = np.array(["SKU_RULE", "PRICE_CAP", "EXCLUSIVE", "NOT_CHOSEN"])
    prog = rng.integers(0, 3, n)
    margin = rng.integers(0, 100_000, n) / 100
    pacsv.write_csv(pa.table({
        "sku_id": pa.array([f"S{i:07d}" for i in range(n)]), "offer_id": pa.array(["O"] * n),
        "program": progs[prog], "price": np.full(n, 9.99), "units": np.ones(n),
        "revenue": np.full(n, 9.99), "fee_rate": np.full(n, 0.006), "fees": np.full(n, 0.06),
        "margin": margin}), folder / "plan.csv")
    ep, er = rng.integers(0, 3, m), rng.integers(0, 4, m)
    pacsv.write_csv(pa.table({
        "sku_id": pa.array(np.char.add("X", np.arange(m).astype(str))), "program": progs[ep],
        "reason": reasons[er], "detail": pa.array(["rule, with a comma"] * m)}),
        folder / "excluded.csv")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    for j, pid in enumerate(progs):  # as solve writes it: one run's files agree
        summary["programs"][pid].update(enrolled_skus=int((prog == j).sum()),
                                        revenue=round(9.99 * int((prog == j).sum()), 2),
                                        margin=round(float(margin[prog == j].sum()), 2))
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    path = write_report(folder)
    data = embedded(path.read_text(encoding="utf-8"))["solve"]
    assert data["plan"]["rows"] == n and data["enrolled_skus"] == n
    assert data["excluded"]["rows"] == m
    for j, pid in enumerate(progs):
        assert data["plan"]["programs"][pid]["rows"] == int((prog == j).sum())
        for k, r in enumerate(reasons):
            assert data["excluded"]["by_program"][pid][r] == int(((ep == j) & (er == k)).sum())
    assert path.stat().st_size < 100_000


def test_translated_headers_are_read_by_position(tmp_path: Path) -> None:
    """--lang zh writes Chinese headers after a BOM; the columns are the same, in order."""
    en = aggregate(write_solve_folder(tmp_path / "en"))["solve"]
    zh_folder = write_solve_folder(tmp_path / "zh")
    zh_plan = ["SKU编号", "商品ID", "报名项目", "报名价(元)", "预计件数", "预计销售额(元)", "费率",
               "预计平台费用(元)", "预计毛利(元)"]
    write_csv(zh_folder / "plan.csv", zh_plan, PLAN_ROWS, bom=True)
    write_csv(zh_folder / "excluded.csv", ["SKU编号", "报名项目", "原因代码", "说明"],
              [list(r) for r in _excluded_rows(tmp_path / "en")], bom=True)
    zh = aggregate(zh_folder)["solve"]
    assert zh["plan"] == en["plan"] and zh["excluded"] == en["excluded"]
    assert len(PLAN_HEADER) == len(zh_plan)


def _excluded_rows(folder: Path) -> list[tuple[str, ...]]:
    return [tuple(r[c] for c in EXCLUDED_HEADER) for r in _rows(folder / "excluded.csv")]


def test_sweep_folder(sweep_folder: Path) -> None:
    data = aggregate(sweep_folder)
    assert data["solve"] is None
    w = data["sweep"]
    assert w["x"] == FEE_PATH
    assert [p["values"][FEE_PATH] for p in w["points"]] == SWEEP_VALUES  # by index, not file order
    nulls = [p for p in w["points"] if p["objective"] is None]
    assert len(nulls) == 1 and nulls[0]["status"] == "NO_SOLUTION"
    assert w["breakeven"]["programs"] == BREAKEVEN
    assert w["order"] == ["offsite", "yanxuan", "huopin"]
    assert data["names"] == {"offsite": "站外分销货源中心", "yanxuan": "严选", "huopin": "伙拼"}
    assert w["per_sku"]["column"] == FEE_PATH
    off = w["per_sku"]["programs"]["offsite"]
    rates = sorted(float(r[3]) for r in BREAKEVEN_ROWS if r[1] == "offsite" and r[3])
    assert (off["skus"], off["leaves"], off["never"], off["excluded"]) == (5, 3, 1, 1)
    assert off["x"] == rates and off["left"] == [1, 2, 3]
    assert [f["sku_id"] for f in off["first"]] == ["A2", "A1", "A4"]


def test_sweep_names_come_from_sweep_json(tmp_path: Path) -> None:
    """The report reads no rulebook: a name is the file's, and a sweep.json written before
    program_names was kept gives a report with the ids alone."""
    doc = sweep_doc()
    doc["program_names"] = {"offsite": "站外", "yanxuan": "", "huopin": "伙拼"}
    named = aggregate(write_sweep_folder(tmp_path / "named", doc, per_sku=False))
    assert named["names"] == {"offsite": "站外", "yanxuan": "", "huopin": "伙拼"}
    del doc["program_names"]
    old = write_sweep_folder(tmp_path / "old", doc, per_sku=False)
    assert aggregate(old)["names"] == {"offsite": "", "yanxuan": "", "huopin": ""}
    html = old / "report.html"
    write_report(old)
    assert "站外" not in html.read_text(encoding="utf-8")


def test_breakeven_csv_without_status(sweep_folder: Path) -> None:
    """A plain sku_id, program, breakeven file: an empty value stays in over the range."""
    write_csv(sweep_folder / "breakeven.csv", ["sku_id", "program", "breakeven"],
              [("A1", "offsite", "0.05"), ("A2", "offsite", ""), ("A3", "offsite", "0.04")])
    off = aggregate(sweep_folder)["sweep"]["per_sku"]["programs"]["offsite"]
    assert (off["skus"], off["leaves"], off["never"], off["excluded"]) == (3, 2, 1, 0)
    assert off["x"] == [0.04, 0.05] and [f["sku_id"] for f in off["first"]] == ["A3", "A1"]


def test_sweep_with_two_axes_draws_against_the_breakeven_axis(tmp_path: Path) -> None:
    doc = sweep_doc()
    other = "programs.yanxuan.demand_multiplier"
    doc["axes"].insert(0, {"path": other, "values": [1.0, 2.0]})
    points = []
    for mult in (1.0, 2.0):
        for p in sweep_doc()["points"]:
            points.append({**p, "index": len(points), "values": {**p["values"], other: mult}})
    doc["points"] = points
    w = aggregate(write_sweep_folder(tmp_path / "two", doc, per_sku=False))["sweep"]
    assert w["x"] == FEE_PATH and len(w["points"]) == 10 and w["per_sku"] is None
    doc["breakeven"] = None
    w = aggregate(write_sweep_folder(tmp_path / "none", doc, per_sku=False))["sweep"]
    assert w["x"] == other  # no break-even: the first axis


def test_solve_and_sweep_in_one_folder(solve_folder: Path) -> None:
    write_sweep_folder(solve_folder)
    data = aggregate(solve_folder)
    assert data["solve"] is not None and data["sweep"] is not None
    html = render_html(data)
    assert 'id="chart-margin"' in html and 'id="chart-sweep-margin"' in html


def test_escaping_keeps_the_page_whole(tmp_path: Path) -> None:
    """Text from the files cannot close a tag or the embedded JSON."""
    evil = "</script><script>alert(1)</script>&<b>"
    rows = [(evil, "O<1>", "offsite", "9.00", "1.000", "9.00", "0.006", "0.05", "9999.00")]
    html = render_html(aggregate(write_solve_folder(tmp_path / "evil", rows)))
    assert evil not in html and "<script>alert" not in html
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert embedded(html)["solve"]["plan"]["top"][0]["sku_id"] == evil
