"""report.html in headless Chromium: the script draws the charts (SVG elements with real sizes
in the DOM, none in the file as written) and the page asks the network for nothing.

Skipped when Debian's chromium is not installed, unless ENROLL_OPT_REQUIRE_CHROMIUM=1 (CI).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from optimizer.report import write_report
from tests.report.builders import BREAKEVEN, SWEEP_VALUES, sweep_doc, write_sweep_folder

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio"]
HANG_GUARD_S = 180  # a stuck browser fails the test instead of hanging CI; not a speed check


def _chromium() -> str:
    found = shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
    if found:
        return found
    if os.environ.get("ENROLL_OPT_REQUIRE_CHROMIUM") == "1":
        pytest.fail("chromium is not installed and ENROLL_OPT_REQUIRE_CHROMIUM=1")
    pytest.skip("chromium not installed (apt-get install chromium)")


def dump_dom(page: Path, work: Path, netlog: Path | None = None) -> str:
    """The DOM after the page's scripts ran, as Chromium serialises it."""
    args = [_chromium(), *FLAGS, f"--user-data-dir={work / 'profile'}"]
    if netlog is not None:
        args.append(f"--log-net-log={netlog}")
    done = subprocess.run([*args, "--dump-dom", page.resolve().as_uri()], capture_output=True,
                          text=True, timeout=HANG_GUARD_S, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def with_class(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and cls in a.get("class", "").split()]

    def root(self) -> dict[str, str]:
        return next(a for t, a in self.tags if t == "html")


def _links(html: str) -> list[str]:
    """Every address the markup could load: src, href, xlink:href, action, url(...)."""
    found = re.findall(r'\b(?:src|href|xlink:href|action|srcset|poster)\s*=\s*["\']?([^"\'\s>]+)',
                       html, re.I)
    return found + re.findall(r"url\(\s*['\"]?([^)'\"]+)", html, re.I)


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for: URL requests with a page origin as initiator (the browser's own
    background requests have none, "not an origin")."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    jobs = [e["params"] for e in log["events"]
            if e["type"] == start and "url" in e.get("params", {})]  # the begin events
    return [j["url"] for j in jobs if j.get("initiator") != "not an origin"
            and not j["url"].startswith(("file:", "data:"))]


def _positive(attrs: dict[str, str], *names: str) -> bool:
    return all(float(attrs[n]) > 0 for n in names)


@pytest.fixture(scope="module")
def solve_dom(generated: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[str, str, list[str]]:
    _, out = generated
    work = tmp_path_factory.mktemp("chromium-solve")
    netlog = work / "net.json"
    dom = dump_dom(out / "report.html", work, netlog)
    return (out / "report.html").read_text(encoding="utf-8"), dom, _page_requests(netlog)


def test_solve_charts_are_drawn(generated: tuple[Path, Path],
                                solve_dom: tuple[str, str, list[str]]) -> None:
    _, out = generated
    written, dom, _ = solve_dom
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    before, after = Elements(written), Elements(dom)
    assert "data-error" not in after.root(), after.root().get("data-error")
    assert not before.with_class("rect", "bar") and not before.with_class("rect", "bin")
    programs = summary["programs"]
    # margin, GMV and SKU bars: one per program with a non-zero value, sized and labelled
    bars = after.with_class("rect", "bar")
    for field in ("margin", "revenue", "enrolled_skus"):
        nonzero = [pid for pid, p in programs.items() if p[field]]
        drawn = [b for b in bars if b["data-key"] in programs
                 and float(b["data-value"]) == programs[b["data-key"]][field]]
        assert {b["data-key"] for b in drawn} >= set(nonzero), field
        assert all(_positive(b, "width", "height") for b in drawn if float(b["data-value"]))
    # exclusion bars: one per reason, value = the count in excluded.csv
    with open(out / "excluded.csv", encoding="utf-8", newline="") as fh:
        reasons = Counter(r["reason"] for r in csv.DictReader(fh))
    ex = {b["data-key"]: float(b["data-value"]) for b in bars if b["data-key"] in reasons}
    assert ex == {r: float(n) for r, n in reasons.items()}
    # histogram bins: each program's bins hold its enrolled SKUs
    bins = after.with_class("rect", "bin")
    assert bins and all(_positive(b, "width", "height") for b in bins)
    for pid, p in programs.items():
        assert sum(int(b["data-count"]) for b in bins if b["data-key"] == pid) == \
            p["enrolled_skus"]
    # three bar charts, a histogram a program, the exclusions
    assert int(after.root()["data-drawn"]) == 3 + len(programs) + 1


def test_solve_page_loads_nothing(solve_dom: tuple[str, str, list[str]]) -> None:
    written, dom, requests = solve_dom
    assert requests == []
    for html in (written, dom):
        remote = [u for u in _links(html) if re.match(r"(?i)(https?:)?//", u)]
        assert remote == []
    assert "default-src 'none'" in written


def test_the_network_check_can_fail(tmp_path: Path) -> None:
    """The detector sees a page that does load something (so an empty list means something)."""
    page = tmp_path / "loads.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/x.png">'
                    '<script>fetch("https://example.invalid/a").catch(function () {});</script>'
                    "</body></html>", encoding="utf-8")
    netlog = tmp_path / "net.json"
    dump_dom(page, tmp_path, netlog)
    assert set(_page_requests(netlog)) >= {"http://127.0.0.1:9/x.png"}
    assert "http://127.0.0.1:9/x.png" in _links(page.read_text(encoding="utf-8"))


def test_sweep_curves_and_breakeven_marks(tmp_path: Path) -> None:
    folder = write_sweep_folder(tmp_path / "sweep")
    page = write_report(folder)
    netlog = tmp_path / "net.json"
    after = Elements(dump_dom(page, tmp_path, netlog))
    assert _page_requests(netlog) == []
    assert "data-error" not in after.root(), after.root().get("data-error")
    curves = after.with_class("polyline", "curve")
    points = {c.get("data-key"): len(c["points"].split()) for c in curves}
    assert curves and all(n >= 2 for n in points.values())
    # the point at 0.05 has no solution: each sweep curve is broken in two there
    objective = [c for c in curves if c.get("data-key") == "objective"]
    assert [len(c["points"].split()) for c in objective] == [2, 2]
    assert len(SWEEP_VALUES) == 5
    marks = after.with_class("line", "breakeven")
    known = {p: v for p, v in BREAKEVEN.items() if v is not None}
    assert len(marks) == 2 * len(known)  # on the enrolment and the margin chart
    assert {m["data-key"]: float(m["data-x"]) for m in marks} == known
    assert len(after.with_class("circle", "breakeven-pt")) >= len(known)
    # the per-SKU break-even curves (breakeven.csv): a step curve per program
    assert {c.get("data-key") for c in curves} >= {"offsite", "yanxuan", "huopin", "bound"}
    assert int(after.root()["data-drawn"]) == 4


def test_two_axis_sweep_has_a_slice_picker(tmp_path: Path) -> None:
    doc = sweep_doc()
    other = "programs.yanxuan.demand_multiplier"
    doc["axes"].append({"path": other, "values": [1.0, 2.0]})
    doc["points"] = [{**p, "index": i * 2 + j, "values": {**p["values"], other: m}}
                     for i, p in enumerate(sweep_doc()["points"]) for j, m in enumerate((1.0, 2.0))]
    page = write_report(write_sweep_folder(tmp_path / "two", doc, per_sku=False))
    after = Elements(dump_dom(page, tmp_path))
    assert [a for t, a in after.tags if t == "select"] == [{"data-axis": other}]
    objective = [c for c in after.with_class("polyline", "curve")
                 if c.get("data-key") == "objective"]
    assert [len(c["points"].split()) for c in objective] == [2, 2]  # one slice, not both
