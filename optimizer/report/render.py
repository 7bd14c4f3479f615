"""report.html: one self-contained page (inline CSS, inline SVG drawn by inline JS, data as JSON).

The numbers a merchant reads are also in plain HTML tables, so the page is useful with scripts
off; the charts are drawn by the script from the embedded JSON. A Content-Security-Policy
forbids every network fetch, so the page cannot phone home even if someone edits it.
"""

from __future__ import annotations

import json
import logging
import math
from html import escape
from pathlib import Path
from typing import Any

from optimizer.outdir import RUN_MANIFEST, output_set, verified_run
from optimizer.report.assets import CSS, JS
from optimizer.report.collect import aggregate

log = logging.getLogger(__name__)

REPORT = "report.html"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:; base-uri 'none'; form-action 'none'")
REASON_TEXT = {
    "MERCHANT_RULE": "the shop fails one of the program's entry rules",
    "SKU_RULE": "the SKU fails one of the program's rules",
    "PRICE_CAP": "no price under the program's caps keeps a non-negative margin",
    "EXCLUSIVE": "the SKU's offer is in a program this one excludes",
    "STOCK": "even at its highest allowed price the SKU sells more than its stock",
    "NOT_CHOSEN": "eligible, but not in the optimal plan (it pays less, or a limit binds)",
    "EXIT": "enrolled today (current), and this plan leaves it",
}


def yuan(v: float | None) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:,.2f}"


def count(v: int | float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def embed_json(data: Any) -> str:
    """JSON that can sit inside <script>: '<', '>' and '&' escaped, so no text closes the tag."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Page:
    """The page as a list of HTML pieces; every text from the files goes through escape()."""

    def __init__(self, names: dict[str, str]):
        self.parts: list[str] = []
        self.names = names

    def add(self, html: str) -> None:
        self.parts.append(html)

    def program(self, pid: str) -> str:
        name = self.names.get(pid, "")
        return escape(f"{pid} {name}" if name else pid)

    def table(self, head: list[str], rows: list[list[str]], left: int = 1,
              attrs: str = "") -> None:
        """head and rows are HTML already escaped; the first `left` columns align left."""
        cls = [' class="l"' if i < left else "" for i in range(len(head))]
        out = [f"<table{attrs}><thead><tr>"]
        out += [f"<th{c}>{h}</th>" for c, h in zip(cls, head, strict=True)]
        out.append("</tr></thead><tbody>")
        for row in rows:
            out.append("<tr>" + "".join(f"<td{c}>{v}</td>" for c, v in zip(cls, row, strict=True))
                       + "</tr>")
        out.append("</tbody></table>")
        self.add("".join(out))


def _card(key: str, value: str, cls: str = "") -> str:
    return (f'<div class="card"><div class="k">{escape(key)}</div>'
            f'<div class="v{cls}">{value}</div></div>')


def _gmv_counted_html(page: _Page, s: dict[str, Any], gmv: dict[str, Any]) -> str:
    """What the 通天 GMV target counted: the shop's ordinary 1688 sales (baseline_gmv) and the
    revenue of the programs whose orders are 1688 trades; the others' revenue does not count."""
    counted = gmv["counted_programs"]
    left = [p for p in s["order"] if p in s["programs"] and p not in counted]
    text = (f"gmv_min {yuan(gmv['value'])} yuan, as 1688 counts it: ordinary 1688 sales "
            f"(baseline_gmv) {yuan(gmv['baseline'])} + counted programs "
            f"({', '.join(page.program(p) for p in counted) or 'none'}) "
            f"{yuan(gmv['counted_revenue'])}")
    if left:
        text += ("; not counted (not 1688 trades): "
                 + ", ".join(f"{page.program(p)} {yuan(s['programs'][p]['revenue'])}"
                             for p in left))
    return f'<p id="gmv-counted">{text}.</p>'


def _solve_html(page: _Page, s: dict[str, Any]) -> None:
    status = escape(s["status"])
    gap = s["gap"]
    cards = [
        _card("status", status, f" status-{status}"),
        _card("objective (expected margin, yuan)", yuan(s["objective"])),
        _card("bound (no plan earns more, yuan)", yuan(s["bound"])),
        _card("gap", "–" if gap is None else f"{gap * 100:.4f}%"),
        _card("enrolled SKUs", count(s["enrolled_skus"])),
        _card("enrolments (SKU × program)", count(s["enrolments"])),
        _card("GMV (yuan)", yuan(s["gmv"])),
        _card("margin (yuan)", yuan(s["margin"])),
    ]
    if s["seconds"] is not None:
        cards.append(_card("solve time", f"{s['seconds']:,.1f} s"))
    page.add('<section id="headline"><h2>Headline</h2><div class="cards">' + "".join(cards)
             + "</div>")
    if s["reason"]:
        page.add(f'<p class="warn">{escape(s["reason"])}</p>')
    page.add("</section>")

    if s.get("todo") is not None:
        _todo_html(page, s["changes"], s["todo"])

    order = [p for p in s["order"] if p in s["programs"]]
    page.add('<section id="programs"><h2>Margin and GMV by program</h2>'
             '<h3>margin (yuan)</h3><div class="chart" id="chart-margin"></div>'
             '<h3>GMV (yuan)</h3><div class="chart" id="chart-gmv"></div>'
             '<h3>enrolled SKUs</h3><div class="chart" id="chart-skus"></div>')
    rows = []
    for pid in order:
        p = s["programs"][pid]
        rate = f"{p['margin'] / p['revenue'] * 100:.1f}%" if p["revenue"] else "–"
        rows.append([page.program(pid), count(p["enrolled_skus"]), f"{p['units']:,.3f}",
                     yuan(p["revenue"]), yuan(p["fees"]), yuan(p["margin"]), rate])
    rows.append(["<b>total</b>", count(s["enrolments"]),
                 f"{sum(s['programs'][p]['units'] for p in order):,.3f}", yuan(s["gmv"]),
                 yuan(sum(s["programs"][p]["fees"] for p in order)), yuan(s["margin"]), "–"])
    page.table(["program", "SKUs", "units", "GMV (yuan)", "fees (yuan)", "margin (yuan)",
                "margin / GMV"], rows, attrs=' id="table-programs"')
    if s["constraints"]:
        page.add("<h3>global constraints</h3>")
        page.table(["constraint", "value", "limit"],
                   [[escape(k), f"{c['value']:,.2f}".rstrip("0").rstrip("."),
                     f"{c['limit']:,.2f}".rstrip("0").rstrip(".")]
                    for k, c in s["constraints"].items()])
        gmv = s["constraints"].get("gmv_min")
        if gmv is not None and gmv.get("counted_programs") is not None:
            page.add(_gmv_counted_html(page, s, gmv))
    page.add("</section>")

    page.add('<section id="prices"><h2>Enrolled price relative to its caps</h2>')
    h = s["price_vs_market"]
    if h is None:
        page.add('<p class="note">This summary.json has no price_vs_market histogram (written by '
                 "an older enroll-opt): solve again to see it.</p>")
    else:
        lo, hi = h["edges"][0] * 100, h["edges"][-1] * 100
        width = (h["edges"][1] - h["edges"][0]) * 100
        page.add('<p class="caption">Each enrolled SKU\'s price as a share of its market price '
                 "(市场价): 90% is 10% below market price. A program's caps set the ceiling, "
                 "e.g. offsite must stay below 90% of market price and below the lowest price of "
                 "the last 30 days, so a program's bars end at its cap; prices further left are "
                 "discounts the optimizer chose because the extra volume pays. Bins are "
                 f"{width:g} points wide, labelled by their upper end: the bar at 95% holds the "
                 f"prices above {95 - width:g}% up to 95% of market price. The table says how "
                 "many prices sit exactly at the highest price the caps allow, and which cap "
                 'that is.</p><div id="chart-price"></div>')
        rows = []
        for pid in order:
            hp = h["programs"].get(pid)
            if hp is None:
                continue
            n = sum(hp["counts"]) + hp["below"] + hp["above"]
            by = ", ".join(f"{escape(c)} {count(k)}" for c, k in hp["at_cap_by"].items() if k)
            rows.append([page.program(pid), count(n), count(hp["at_cap"]),
                         "–" if not n else f"{hp['at_cap'] / n * 100:.1f}%", by or "–",
                         count(hp["below"]), count(hp["above"]), count(hp["no_cap"])])
        page.table(["program", "enrolled", "at the cap", "share at the cap", "binding cap",
                    f"≤ {lo:g}% of market", f"above {hi:g}%", "no cap"], rows,
                   attrs=' id="table-price"')
    page.add("</section>")

    ex = s["excluded"]
    page.add('<section id="exclusions"><h2>Exclusions by reason</h2>'
             f'<p class="sub">{count(ex["rows"])} SKU × program pairs not in the plan, each '
             "counted once under the first reason that excluded it.</p>")
    if ex["reasons"]:
        page.add('<div class="chart" id="chart-excluded"></div>')
        progs = [p for p in s["order"] if p in ex["by_program"]]
        rows = [[page.program(p)] + [count(ex["by_program"][p].get(r, 0)) for r in ex["reasons"]]
                + [count(sum(ex["by_program"][p].values()))] for p in progs]
        rows.append(["<b>total</b>"] + [count(ex["totals"][r]) for r in ex["reasons"]]
                    + [count(ex["rows"])])
        page.table(["program"] + [escape(r) for r in ex["reasons"]] + ["all"], rows,
                   attrs=' id="table-excluded"')
        page.add("<ul class=\"note\">" + "".join(
            f"<li><b>{escape(r)}</b>: {escape(REASON_TEXT.get(r, 'as written by solve'))}</li>"
            for r in ex["reasons"]) + "</ul>")
    page.add("</section>")

    top = s["plan"]["top"]
    if top:
        page.add(f'<section id="top"><h2>Top {len(top)} enrolments by margin</h2>')
        page.table(["SKU", "offer", "program", "price", "units", "GMV (yuan)", "margin (yuan)"],
                   [[escape(t["sku_id"] or ""), escape(t["offer_id"] or ""),
                     page.program(t["program"]), yuan(t["price"]), f"{t['units']:,.3f}",
                     yuan(t["revenue"]), yuan(t["margin"])] for t in top], left=3)
        page.add("</section>")


def _todo_html(page: _Page, changes: dict[str, int], todo: dict[str, Any]) -> None:
    """The merchant's to-do list against today's enrollments (SPEC 6.1): register the new rows,
    change the repriced ones, leave the exits; the kept rows need nothing, unless warned."""
    kinds = (("keep", "keep (nothing to do)"), ("new", "register (new)"),
             ("reprice", "change the price"), ("exit", "leave (exit)"))
    page.add('<section id="todo"><h2>To do from today\'s enrollments</h2><div class="cards">'
             + "".join(_card(label, count(changes.get(k, 0))) for k, label in kinds)
             + "</div>")
    page.add('<p class="caption">A kept enrollment continues at today\'s price and sells the '
             "whole horizon; a new or repriced one is registered anew and sells only after its "
             "review days. The lists show the first rows of plan.csv (change other than keep) "
             "and of excluded.csv (reason EXIT).</p>")

    def more(shown: int, total: int, what: str) -> None:
        if total > shown:
            page.add(f'<p class="note">… and {count(total - shown)} more {what}: see the '
                     "files.</p>")

    rows = todo["changes"]
    if rows:
        page.add("<h3>register or change</h3>")
        page.table(["SKU", "program", "price", "change", "warning"],
                   [[escape(r["sku_id"] or ""), page.program(r["program"] or ""),
                     escape(r["price"] or ""), escape(r["change"] or ""),
                     escape(r["warning"] or "")] for r in rows], left=2,
                   attrs=' id="table-todo"')
        more(len(rows), changes.get("new", 0) + changes.get("reprice", 0), "rows")
    if todo["exits"]:
        page.add("<h3>leave</h3>")
        page.table(["SKU", "program", "today"],
                   [[escape(r["sku_id"] or ""), page.program(r["program"] or ""),
                     escape(r["detail"] or "")] for r in todo["exits"]], left=2,
                   attrs=' id="table-exits"')
        more(len(todo["exits"]), changes.get("exit", 0), "exits")
    if todo["warned"]:
        page.add('<h3>kept, but breaking a rule now</h3><p class="note">These enrollments '
                 "cannot leave (no_exit): they stay, and the merchant should know the rule "
                 "they now break.</p>")
        page.table(["SKU", "program", "price", "warning"],
                   [[escape(r["sku_id"] or ""), page.program(r["program"] or ""),
                     escape(r["price"] or ""), escape(r["warning"] or "")]
                    for r in todo["warned"]], left=2, attrs=' id="table-warned"')
    page.add("</section>")


def _sweep_html(page: _Page, w: dict[str, Any]) -> None:
    x = escape(w["x"])
    axes = "; ".join(f"{escape(a['path'])}: {len(a['values'])} values "
                     f"{a['values'][0]:g} … {a['values'][-1]:g}" for a in w["axes"])
    page.add(f'<section id="sweep"><h2>Sensitivity sweep: {x}</h2>'
             f'<p class="sub">scenario {escape(w["scenario"])}; {len(w["points"])} points; '
             f"{axes}</p>")
    if len(w["axes"]) > 1:
        page.add('<p class="note">Curves against the break-even parameter (or the first axis); '
                 'pick the other axes\' values here:</p><div id="sweep-slice"></div>')
    page.add("<h3>objective and bound</h3><div class=\"chart\" id=\"chart-sweep-objective\">"
             "</div><h3>enrolled SKUs by program</h3>"
             '<div class="chart" id="chart-sweep-skus"></div>'
             '<h3>margin by program</h3><div class="chart" id="chart-sweep-margin"></div>'
             '<p class="caption">Dashed vertical lines and circles on the zero line mark each '
             f"program's break-even {x}: where its enrolled margin reaches zero (found by "
             "bisection, so it may fall between grid points).</p>")
    be = w["breakeven"]
    if be is not None:
        page.add(f"<h3>break-even {escape(be['path'])}</h3>")
        page.table(["program", "break-even value"],
                   [[page.program(p), "not within the range searched" if v is None else f"{v:g}"]
                    for p, v in be["programs"].items()], attrs=' id="table-breakeven"')
    ps = (w["per_sku"] or {}).get("programs") or {}
    if ps:
        page.add('<h3>when SKUs leave each program</h3>'
                 '<div class="chart" id="chart-sweep-persku"></div><p class="caption">From '
                 f"breakeven.csv: how many SKUs have left each program by each value of {x} "
                 "(a SKU leaves above the highest value at which enrolling it still pays, "
                 "alone in the program).</p>")
        rows = []
        for pid, d in ps.items():
            first = ", ".join(f"{escape(f['sku_id'])} ({f['rate']:g})" for f in d["first"][:5])
            rows.append([page.program(pid), count(d["skus"]), count(d["leaves"]),
                         count(d["never"]), count(d["excluded"]), first])
        page.table(["program", "SKUs", "leave within the range", "pay throughout",
                    "pay nowhere", "first to leave (value)"], rows, attrs=' id="table-persku"')
    page.add("</section>")


def render_html(data: dict[str, Any]) -> str:
    """The page for aggregate()'s data."""
    page = _Page(data["names"])
    s, w = data["solve"], data["sweep"]
    title = s["name"] if s is not None else w["scenario"]
    page.add(f"<header><h1>enroll-opt report: {escape(title)}</h1>"
             f'<p class="sub">output folder {escape(data["folder"])}; programs: '
             + ", ".join(page.program(p) for p in data["names"]) + "</p></header>")
    page.add("<noscript><p class=\"note\">Scripts are off: the tables below have every number; "
             "the charts need scripts (inline, nothing is downloaded).</p></noscript>")
    if s is not None:
        _solve_html(page, s)
    if w is not None:
        _sweep_html(page, w)
    body = "\n".join(page.parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>enroll-opt report: {escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n"
        f'<script type="application/json" id="report-data">{embed_json(data)}</script>\n'
        f"<script>{JS}</script>\n</body>\n</html>\n")


def write_report(outdir: Path) -> Path:
    """Read an output folder of solve or sweep and write OUTDIR/report.html into its run.

    A commit cut short is finished first; then the files are checked against the run's
    manifest, and report.html is committed into that run (optimizer/outdir.py). InputError, and
    nothing written, when the folder is not an output folder, a file in it is malformed, or its
    files are not one run's (a folder from before manifests is read as it is)."""
    outdir = Path(outdir)
    run = verified_run(outdir, skip=frozenset({REPORT})) if outdir.is_dir() else None
    html = render_html(aggregate(outdir)).encode("utf-8")
    if run is None:
        log.warning("%s has no run manifest (written by an older enroll-opt, or by hand): its "
                    "files cannot be checked to be one run's", outdir)
    with output_set(outdir, "report", owned=frozenset(), extend=run,
                    manifest=None if run is None else RUN_MANIFEST) as stage:
        stage.write(REPORT, html)
    target = outdir / REPORT
    log.info("report: %s (%d bytes)", target, len(html))
    return target

