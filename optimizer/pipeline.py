"""load -> rules -> score -> solve -> plan, as one call the CLI can make.

Nothing here knows about the command line: it returns an Outcome (the solve's status, the text a
person reads; the CLI maps the status to an exit code) and raises InputError on bad input before
anything is written. Loading and the rules are `optimizer.prepare`'s, shared with the other
commands.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimizer.load.types import Scenario
from optimizer.plan.lang import check_lang
from optimizer.plan.writer import PlanTables, Written, build_tables, check_outdir, write_outputs
from optimizer.prepare import load_inputs
from optimizer.progress import Progress
from optimizer.score.problem import Problem, build_problem
from optimizer.score.rows import GlobalRows, locked_usage
from optimizer.solve import FEASIBLE, INFEASIBLE, OPTIMAL, Result, solve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    text: str
    outdir: Path
    result: Result
    tables: PlanTables
    phases: dict[str, float]

    @property
    def status(self) -> str:
        """The solve's status (OPTIMAL, FEASIBLE, INFEASIBLE, NO_SOLUTION): the CLI's exit code."""
        return self.result.status


FOLDER_NAME_BYTES = 100  # file systems allow 255; room for "-sweep" and the ".<name>.<tmp>" folder


def safe_folder_name(name: str) -> str:
    """The scenario name as one folder name: no separators, no '..', never empty, at most
    FOLDER_NAME_BYTES of UTF-8 (a longer name is cut at a character boundary: README)."""
    cleaned = re.sub(r"[\\/:\x00]+", "_", name.strip()).strip(". ")
    cut = cleaned.encode("utf-8")[:FOLDER_NAME_BYTES].decode("utf-8", "ignore").strip(". ")
    return cut or "scenario"


def max_gmv_bound(pb: Problem) -> float:
    """An upper bound (fen) on the GMV any plan's programs bring toward the target: per SKU, the
    best revenue of each eligible counting program (counts_toward_gmv) added up, and never more
    than its available units sold at its highest price."""
    if pb.m == 0:
        return 0.0
    r_lo = pb.evaluate(np.arange(pb.m), pb.pv_lo)["gmv"]
    r_hi = pb.evaluate(np.arange(pb.m), pb.pv_hi)["gmv"]
    per = np.zeros((pb.n, len(pb.programs)))
    np.maximum.at(per, (pb.pv_sku, pb.pv_prog), np.maximum(r_lo, r_hi))
    top_price = np.zeros(pb.n)
    np.maximum.at(top_price, pb.pv_sku, pb.pv_hi.astype(float))
    return float(np.minimum(per.sum(axis=1), pb.avail * top_price).sum())


def explain_locked(pb: Problem) -> str:
    """Today's no_exit rows are in every plan: the global rows they alone overrun, with the
    numbers (empty when they fit, or there are none)."""
    if not pb.force.any():
        return ""
    rows = GlobalRows.of(pb)
    used = locked_usage(pb)
    said = []
    for k in rows.capped:
        if used[k] > pb.max_skus[k]:
            said.append(f"max_skus.{pb.programs[k]}: {int(used[k])} SKUs locked > "
                        f"{int(pb.max_skus[k])}")
    if rows.budget is not None and used[rows.discount] > rows.budget:
        said.append(f"discount_budget: their discount {used[rows.discount] / 100:,.2f} > "
                    f"{rows.budget / 100:,.2f}")
    if not said:
        return ""
    return ("today's no_exit enrollments cannot leave, and alone they break " + "; ".join(said)
            + f" ({int(pb.force.sum())} locked rows)")


def explain_infeasible(scenario: Scenario, pb: Problem, result: Result) -> str:
    """The empty plan (or today's locked rows) meets every constraint but gmv_min, so gmv_min is
    in the conflict, unless the locked rows alone break a limit."""
    locked = explain_locked(pb)
    if locked:
        return locked
    gmv = float(scenario.constraints.gmv_min or 0)
    baseline = float(scenario.merchant.baseline_gmv)
    reach = baseline + max_gmv_bound(pb) / 100
    if gmv > reach:
        counted = "program counting toward GMV"
        if baseline:
            counted += f", plus baseline_gmv {baseline:,.2f}"
        return (f"gmv_min {gmv:,.2f} is above the most GMV any eligible plan reaches: "
                f"at most {reach:,.2f} (every eligible SKU x {counted} at its highest-revenue "
                "price, within stock)")
    others = []
    c = scenario.constraints
    if c.discount_budget is not None:
        others.append(f"discount_budget {float(c.discount_budget):,.2f}")
    others += [f"max_skus.{p} {n}" for p, n in c.max_skus.items()]
    if c.stock_reserve_days:
        others.append(f"stock_reserve_days {c.stock_reserve_days:g}")
    with_what = ", ".join(others) or "the price caps and stock"
    return (f"gmv_min {gmv:,.2f} cannot be met together with {with_what}: without them the GMV "
            f"could reach at most {reach:,.2f}; {result.infeasible_reason}")


def human_summary(tables: PlanTables, result: Result, outdir: Path,
                  extra_files: tuple[str, ...] = (), written: Written | None = None) -> str:
    s = tables.summary
    lines = [f"{s['name']}: {result.summary_line()}"]
    if result.status in (OPTIMAL, FEASIBLE):
        # wide enough for a million SKUs: columns never run into each other
        lines.append(f"{'program':<18}{'SKUs':>9}{'units':>16}{'revenue':>19}{'margin':>19}")
        for pid, p in s["programs"].items():
            lines.append(f"{pid:<18}{p['enrolled_skus']:>9}{p['units']:>16,.1f}"
                         f"{p['revenue']:>19,.2f}{p['margin']:>19,.2f}")
        for name, c in s["constraints"].items():
            line = f"  {name}: {c['value']:,} (limit {c['limit']:,})"
            if "counted_programs" in c:  # the 通天 target as 1688 counts it
                counted = ", ".join(c["counted_programs"]) or "no program"
                line += (f" = baseline {c['baseline']:,.2f} + {c['counted_revenue']:,.2f} of "
                         f"{counted}")
            lines.append(line)
    if result.infeasible_reason:
        lines.append(result.infeasible_reason)
    if written is not None and not written.new:
        lines.append(f"nothing written: {outdir} keeps the plan of {written.describe()}")
    else:
        lines.append(", ".join((f"written: {outdir}/plan.csv", "excluded.csv", "summary.json",
                                *extra_files)))
    return "\n".join(lines)


def run_solve(scenario_path: Path, outdir: Path | None, xlsx: bool = False,
              lang: str = "en") -> Outcome:
    """Solve one scenario file and write its outputs. Raises InputError on bad input.

    `xlsx` also writes plan.xlsx; `lang` ("en" or "zh") is the language of the files' headers
    (ValueError for another, before anything is read)."""
    check_lang(lang)
    phases: dict[str, float] = {}
    progress = Progress()
    progress.phase("load")
    t = time.perf_counter()
    loaded = load_inputs(scenario_path)
    scenario, rulebook, catalogue = loaded.scenario, loaded.rulebook, loaded.catalogue
    out = outdir if outdir is not None else Path("out") / safe_folder_name(scenario.name)
    check_outdir(out)
    phases["load"] = time.perf_counter() - t
    progress.phase("rules")
    t = time.perf_counter()
    outcome = loaded.evaluate().rules
    phases["rules"] = time.perf_counter() - t
    progress.phase("score")
    t = time.perf_counter()
    pb = build_problem(scenario, rulebook, catalogue, outcome, current=loaded.current)
    phases["score"] = time.perf_counter() - t
    log.info("%d SKUs, %d offers, %d programs, %d pair-variants", pb.n, pb.n_offers,
             len(pb.programs), pb.m)
    progress.phase("solve")
    t = time.perf_counter()
    result = solve(pb, scenario.solver, progress=progress)
    if result.status == INFEASIBLE:
        result = Result(**{**result.__dict__,
                           "infeasible_reason": explain_infeasible(scenario, pb, result)})
    phases["solve"] = time.perf_counter() - t
    model = result.stats.model_seconds or 0.0
    if model:
        phases["model"], phases["solve"] = model, phases["solve"] - model
    progress.phase("write")
    t = time.perf_counter()
    tables = build_tables(scenario, rulebook, pb, outcome, result, current=loaded.current,
                          catalogue=catalogue)
    tables.summary["phases"] = {k: round(v, 3) for k, v in phases.items()}
    tables.summary["trace"] = progress.trace
    written = write_outputs(out, tables, xlsx=xlsx, lang=lang)
    phases["write"] = time.perf_counter() - t
    text = human_summary(tables, result, out, ("plan.xlsx",) if xlsx else (), written)
    return Outcome(text, out, result, tables, phases)
