"""The plan as files: plan.csv, excluded.csv, summary.json (SPEC 5), written atomically.

The files are one set, committed together by optimizer/outdir.py: a crash or a kill leaves the
folder with this run's files or the previous run's, never a mix, never a half-written file.

The tables are built a column at a time (numpy and pyarrow kernels, no Python loop per row) and
written by optimizer/plan/csvtext.py as exactly the bytes Python's csv module writes; a million
SKUs (millions of rows) take seconds. This module says what goes in the files.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from optimizer.load.current import Current
from optimizer.load.errors import InputError
from optimizer.load.types import Catalogue, Scenario
from optimizer.outdir import (
    PLAN_STATUSES,
    Run,
    output_set,
    read_run,
    strict_json,
    tidy,
)
from optimizer.outdir import (
    check_outdir as check_outdir,  # the CLI commands check their -o here before solving
)
from optimizer.plan.csvtext import DECIMALS, write_csv
from optimizer.plan.lang import EXCLUDED_COLUMNS, PLAN_COLUMNS, check_lang, headers
from optimizer.plan.warnings import locked_warnings
from optimizer.plan.xlsx import write_xlsx
from optimizer.rules.eligibility import MERCHANT_RULE, REASONS, SKU_RULE, RuleOutcome
from optimizer.rules.rulebook import Rulebook
from optimizer.score.problem import Problem, current_cells
from optimizer.score.rows import DISCOUNT_BUDGET, GMV_MIN, max_skus_name
from optimizer.solve import Result
from optimizer.text import TEXT, fixed_text, join_text, str_text

log = logging.getLogger(__name__)

PRICE_CAP, EXCLUSIVE, STOCK, NOT_CHOSEN = "PRICE_CAP", "EXCLUSIVE", "STOCK", "NOT_CHOSEN"
EXIT = "EXIT"  # excluded.csv: enrolled today (current), not in the plan (SPEC 6.1)
CHANGES = ("keep", "new", "reprice")  # plan.csv `change` (SPEC 6.1)


def fraction_text(value: Fraction) -> str:
    """An exact decimal rendering of a fee rate (rates are decimals in the rulebook)."""
    text = format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")
    return text if "." in text or text != "0" else "0"


def yuan(fen: float | int) -> str:
    return f"{fen / 100:.2f}"


def yuan_text(fen: np.ndarray) -> pa.Array:
    """yuan(v) for every element."""
    return fixed_text(np.asarray(fen) / 100, 2)


@dataclass(frozen=True)
class PlanTables:
    """plan.csv and excluded.csv as Arrow tables, columns in file order, and summary.json.

    Text columns hold the texts as written before CSV quoting, dictionary-encoded (the pools of
    SKU ids, programs, reasons are shared by many rows). Number columns are float64 whose field
    metadata `decimals` says how they are written: yuan columns hold fen / 100, written
    f"{v:.2f}", units f"{v:.3f}". Iterating a table gives the rows the files have.
    """

    plan: pa.Table
    excluded: pa.Table
    summary: dict[str, Any]


def _coded(indices: np.ndarray, texts: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int64)), texts)


def _plan_table(pb: Problem, result: Result, sku_ids: pa.Array,
                offer_ids: pa.Array) -> tuple[pa.Table, dict[str, np.ndarray]]:
    pv, price = result.pv, result.price
    key = pb.pv_sku[pv] * len(pb.programs) + pb.pv_prog[pv]
    if np.any(key[1:] < key[:-1]):  # SKU by SKU, programs in order (pair-variant order already)
        order = np.lexsort((pb.pv_prog[pv], pb.pv_sku[pv]))
        pv, price = pv[order], price[order]
    ev = pb.evaluate(pv, price)
    fees = ev["revenue"] * pb.pv_fee[pv]
    sku = pb.pv_sku[pv]
    fee_texts = pa.array([fraction_text(f) for f in pb.fee_rates], TEXT)
    columns: dict[str, Any] = {
        "sku_id": _coded(sku, sku_ids),
        "offer_id": _coded(sku, offer_ids),
        "program": _coded(pb.pv_prog[pv], pa.array(pb.programs, TEXT)),
        "price": np.asarray(price) / 100,
        "units": ev["units"],
        "revenue": ev["revenue"] / 100,
        "fee_rate": _coded(pb.pv_var[pv], fee_texts),
        "fees": fees / 100,
        "margin": ev["margin"] / 100,
    }
    decimals = {"price": 2, "units": 3, "revenue": 2, "fees": 2, "margin": 2}
    arrays = [pa.array(np.asarray(v, np.float64)) if name in decimals else v
              for name, v in columns.items()]
    schema = pa.schema([
        pa.field(name, a.type, metadata={DECIMALS: str(decimals[name])} if name in decimals
                 else None) for name, a in zip(columns, arrays, strict=True)])
    ev["fees"] = fees
    ev["pv"] = pv
    ev["price"] = np.asarray(price)
    return pa.Table.from_arrays(arrays, schema=schema), ev


def _excluded_table(pb: Problem, rulebook: Rulebook, outcome: RuleOutcome, result: Result,
                    sku_ids: pa.Array, offer_ids: pa.Array) -> pa.Table:
    """A row per SKU x program pair not enrolled, SKU by SKU, programs in order. (The rows were
    sorted by where their sku_id is in the catalogue: the same order, the loader refusing
    repeated ids.) Every column is dictionary-encoded: the details are the rules' own texts
    (each distinct one once) and those made here, a row taking one of them."""
    k_count = len(pb.programs)
    enrolled = np.zeros((pb.n, k_count), bool)
    enrolled[pb.pv_sku[result.pv], pb.pv_prog[result.pv]] = True
    offer_in = np.zeros((pb.n_offers, k_count), bool)
    offer_in[pb.sku_offer[pb.pv_sku[result.pv]], pb.pv_prog[result.pv]] = True
    not_in = ~enrolled
    pair = np.flatnonzero(not_in.reshape(-1))  # into the (n, K) arrays, row-major
    sku = np.repeat(np.arange(pb.n), np.count_nonzero(not_in, axis=1))
    prog = pair - sku * k_count

    # the first reason that applies: a rule, the price caps, an exclusive program, not chosen
    ruled = ~outcome.ok.reshape(-1)[pair]
    capped = ~pb.eligible.reshape(-1)[pair] & ~ruled
    open_ = ~(ruled | capped)
    rival = np.full(sku.size, -1, np.int64)
    for k in range(k_count):
        rivals = [b if a == k else a for a, b in pb.exclusive if k in (a, b)]
        if rivals:
            rows = np.flatnonzero(open_ & (prog == k))
            offer = pb.sku_offer[sku[rows]]
            for r in rivals:
                hit = rows[offer_in[offer, r] & (rival[rows] < 0)]
                rival[hit] = r
    exclusive = rival >= 0
    # eligible, but even at its highest allowed price the SKU sells more than its stock: no
    # price of the pair fits (units fall as the price rises), whatever the rest of the plan
    fewest = np.full((pb.n, k_count), np.inf)
    np.minimum.at(fewest, (pb.pv_sku, pb.pv_prog),
                  pb.units(np.arange(pb.m), pb.pv_hi.astype(np.float64)))
    least = fewest.reshape(-1)[pair]
    avail = pb.avail[sku]
    short = open_ & ~exclusive & (least > avail * (1 + 1e-9) + 1e-9)
    chosen = open_ & ~exclusive & ~short
    reasons = (*REASONS, PRICE_CAP, EXCLUSIVE, STOCK, NOT_CHOSEN)
    assert reasons.index(MERCHANT_RULE) == REASONS.index(MERCHANT_RULE)
    assert reasons.index(SKU_RULE) == REASONS.index(SKU_RULE)
    reason = np.full(sku.size, reasons.index(NOT_CHOSEN), np.int64)
    np.putmask(reason, exclusive, reasons.index(EXCLUSIVE))
    np.putmask(reason, short, reasons.index(STOCK))
    np.putmask(reason, capped, reasons.index(PRICE_CAP))
    np.copyto(reason, outcome.reason_code.reshape(-1)[pair], where=ruled)

    # the details: the rules' texts, then those made here, and which one each row has
    pool: list[pa.Array] = [outcome.detail_texts]
    size = len(outcome.detail_texts)
    detail = np.zeros(sku.size, np.int64)
    np.copyto(detail, outcome.detail_index.reshape(-1)[pair], where=ruled)

    def add(rows: np.ndarray, texts: pa.Array, which: np.ndarray | int) -> None:
        nonlocal size
        pool.append(texts)
        detail[rows] = size + which
        size += len(texts)

    at = np.flatnonzero(capped)
    if at.size:
        caps: list[str] = []  # per program: its caps, then "no cap"
        cap_base = np.zeros(k_count, np.int64)
        cap_count = np.zeros(k_count, np.int64)
        for j, pid in enumerate(pb.programs):
            cap_base[j], cap_count[j] = len(caps), len(rulebook.programs[pid].price_caps)
            caps += [f"{c.field} x {c.ratio} ({'strict' if c.strict else 'non-strict'})"
                     for c in rulebook.programs[pid].price_caps.values()]
            caps.append("no cap")
        p, flat = prog[at], pair[at]
        which = pb.cap_which.reshape(-1)[flat]
        cap = pa.array(caps, TEXT).take(cap_base[p] + np.where(which >= 0, which, cap_count[p]))
        lo = pb.lo_alone.reshape(-1)[flat]
        known = lo < 2**62
        lowest = pa.concat_arrays([yuan_text(lo[known]), pa.array(["none"], TEXT)]).take(
            np.where(known, np.cumsum(known) - 1, int(known.sum())))
        add(at, join_text(
            "no price under the caps keeps a non-negative margin: highest allowed ",
            yuan_text(pb.hi.reshape(-1)[flat]), " under ", cap,
            ", lowest keeping the margin rule ", lowest), np.arange(at.size))
    at = np.flatnonzero(exclusive)
    if at.size:
        add(at, join_text("offer ", offer_ids.take(sku[at]), " is in ",
                          pa.array(pb.programs, TEXT).take(rival[at])), np.arange(at.size))
    at = np.flatnonzero(short)
    if at.size:
        add(at, pa.array([f"stock {a:.3f} units (after the reserve) < {u:.3f} sold even at the "
                          f"highest allowed price {yuan(h)}"
                          for a, u, h in zip(avail[at], least[at], pb.hi.reshape(-1)[pair[at]],
                                             strict=True)], TEXT), np.arange(at.size))
    at = np.flatnonzero(chosen)
    whole = pb.offer_level[prog[at]]
    if (~whole).any():
        add(at[~whole], pa.array(["not in the optimal plan"], TEXT), 0)
    if whole.any():  # one text per SKU (rows come SKU by SKU)
        at = at[whole]
        new = np.ones(at.size, bool)
        new[1:] = sku[at[1:]] != sku[at[:-1]]
        add(at, join_text("offer ", offer_ids.take(sku[at[new]]), " not enrolled (all or none)"),
            np.cumsum(new) - 1)

    return pa.table({
        "sku_id": _coded(sku, sku_ids),
        "program": _coded(prog, pa.array(pb.programs, TEXT)),
        "reason": _coded(reason, pa.array(reasons, TEXT)),
        "detail": _coded(detail, pa.concat_arrays(pool)),
    })


PRICE_EDGES = tuple(round(0.5 + 0.025 * i, 3) for i in range(21))  # 50% .. 100% of market


def price_vs_market(pb: Problem, rulebook: Rulebook, ev: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per program, a histogram of enrolled price / market price, and how many prices sit
    exactly at the highest price the caps allow (and which cap that is).

    The catalogue is not in the output folder, so the report (optimizer/report) reads this from
    summary.json: "counts" of ratios in (edges[i], edges[i + 1]] (a price right at a 95% cap
    counts under 95%), "below" those up to the first edge, "above" those over the last; "at_cap"
    by cap id under "at_cap_by"; "no_cap" the prices no cap bounds."""
    pv, price = ev["pv"], ev["price"]
    edges = np.asarray(PRICE_EDGES)
    ratio = price / np.maximum(pb.pv_market[pv], 1)
    top = edges.size - 1
    bins = np.searchsorted(edges, ratio, side="left") - 1
    which = pb.cap_which[pb.pv_sku[pv], pb.pv_prog[pv]]
    at_cap = price == pb.pv_hi[pv]
    out: dict[str, Any] = {}
    for k, pid in enumerate(pb.programs):
        sel = pb.pv_prog[pv] == k
        b = bins[sel]
        caps = list(rulebook.programs[pid].price_caps)
        hit = np.bincount(which[sel & at_cap & (which >= 0)], minlength=len(caps))
        out[pid] = {"counts": np.bincount(b[(b >= 0) & (b < top)], minlength=top).tolist(),
                    "below": int(np.count_nonzero(b < 0)),
                    "above": int(np.count_nonzero(b >= top)),
                    "at_cap": int(hit.sum()),
                    "at_cap_by": {c: int(n) for c, n in zip(caps, hit, strict=True)},
                    "no_cap": int(np.count_nonzero(sel & (which < 0)))}
    return {"edges": list(PRICE_EDGES), "programs": out}


def _changes(plan: pa.Table, ev: dict[str, np.ndarray], scenario: Scenario, rulebook: Rulebook,
             pb: Problem, outcome: RuleOutcome, today: np.ndarray,
             catalogue: Catalogue | None) -> tuple[pa.Table, dict[str, Any]]:
    """plan.csv's `change` and `warning` (SPEC 6.1), and what summary.json says of them.

    keep: the row's price is the price at which its pair-variant continues today's enrollment
    (pb.pv_keep_price); reprice: the pair is enrolled today at another price (or, for an offer
    that left a fixed_until_exit program, registered again); new: not enrolled today. A kept row
    of a no_exit program carries the rules it now breaks (optimizer/plan/warnings.py)."""
    pv, price = ev["pv"], ev["price"]
    keep_price = pb.pv_keep_price[pv]
    keep = (keep_price > 0) & (price == keep_price)
    enrolled = today[pb.pv_sku[pv], pb.pv_prog[pv]] > 0
    change = np.where(keep, 0, np.where(enrolled, 2, 1))
    no_exit = np.array([rulebook.programs[p].commitment == "no_exit" for p in pb.programs],
                       bool)
    locked = keep & no_exit[pb.pv_prog[pv]]
    texts = ([""] * int(pv.size) if catalogue is None else
             locked_warnings(scenario, rulebook, catalogue, pb, outcome, locked, pv, price,
                             ev["units"]))
    rows = np.flatnonzero([bool(t) for t in texts]) if locked.any() else np.zeros(0, np.int64)
    pool = pa.array(["", *(texts[r] for r in rows)], TEXT)
    which = np.zeros(pv.size, np.int64)
    which[rows] = np.arange(1, rows.size + 1)
    plan = plan.append_column("change", _coded(change, pa.array(CHANGES, TEXT)))
    plan = plan.append_column("warning", _coded(which, pool))
    counts = np.bincount(change, minlength=len(CHANGES))
    enrolled_pairs = np.zeros(today.shape, bool)
    enrolled_pairs[pb.pv_sku[pv], pb.pv_prog[pv]] = True
    summary = {"changes": {**{c: int(n) for c, n in zip(CHANGES, counts, strict=True)},
                           "exit": int(np.count_nonzero((today > 0) & ~enrolled_pairs))},
               "warnings": [{"sku_id": str(pb.sku_id[pb.pv_sku[pv[r]]]),
                             "program": pb.programs[int(pb.pv_prog[pv[r]])],
                             "price": round(int(price[r]) / 100, 2), "warning": texts[r]}
                            for r in rows]}
    return plan, summary


def _exits(excluded: pa.Table, pb: Problem, today: np.ndarray) -> pa.Table:
    """excluded.csv: a pair enrolled today and not in the plan is an EXIT with its current
    price (`current price 19.20`), in place of the reason it would otherwise have."""
    if not today.any() or not excluded.num_rows:
        return excluded
    sku = excluded.column("sku_id").chunk(0).indices.to_numpy(zero_copy_only=False)
    prog = excluded.column("program").chunk(0).indices.to_numpy(zero_copy_only=False)
    price = today[sku, prog]
    rows = np.flatnonzero(price > 0)
    if not rows.size:
        return excluded
    reason = excluded.column("reason").chunk(0)
    detail = excluded.column("detail").chunk(0)
    codes = reason.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes[rows] = len(reason.dictionary)
    which = detail.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    which[rows] = len(detail.dictionary) + np.arange(rows.size)
    texts = join_text("current price ", yuan_text(price[rows]))
    return excluded.set_column(
        2, "reason", _coded(codes, pa.concat_arrays([reason.dictionary.cast(TEXT),
                                                      pa.array([EXIT], TEXT)]))
    ).set_column(3, "detail", _coded(which, pa.concat_arrays([detail.dictionary.cast(TEXT),
                                                               texts.cast(TEXT)])))


def build_tables(scenario: Scenario, rulebook: Rulebook, pb: Problem, outcome: RuleOutcome,
                 result: Result, *, current: Current | None = None,
                 catalogue: Catalogue | None = None) -> PlanTables:
    """The files' tables. `current` (today's enrollments) gives `change`, the EXIT rows and the
    warnings of locked rows, whose caps are read from `catalogue` (SPEC 6.1)."""
    sku_ids, offer_ids = str_text(pb.sku_id), str_text(pb.offer_id)
    plan, ev = _plan_table(pb, result, sku_ids, offer_ids)
    today = current_cells(current, pb.programs, pb.n)
    plan, changes = _changes(plan, ev, scenario, rulebook, pb, outcome, today, catalogue)
    pv = ev["pv"]
    programs: dict[str, Any] = {}
    for k, pid in enumerate(pb.programs):
        sel = pb.pv_prog[pv] == k
        programs[pid] = {
            "name_zh": rulebook.programs[pid].name_zh,
            "enrolled_skus": int(sel.sum()),
            "units": round(float(ev["units"][sel].sum()), 3),
            "revenue": round(float(ev["revenue"][sel].sum()) / 100, 2),
            "fees": round(float(ev["fees"][sel].sum()) / 100, 2),
            "margin": round(float(ev["margin"][sel].sum()) / 100, 2),
            # its orders are 1688 trades: its revenue counts toward gmv_min (SPEC 3)
            "counts_toward_gmv": bool(rulebook.programs[pid].counts_toward_gmv),
        }
    c = scenario.constraints
    constraints: dict[str, Any] = {}
    for pid, limit in c.max_skus.items():
        constraints[max_skus_name(pid)] = {"value": programs[pid]["enrolled_skus"], "limit": limit}
    if c.discount_budget is not None:
        constraints[DISCOUNT_BUDGET] = {"value": round(float(ev["discount"].sum()) / 100, 2),
                                        "limit": float(c.discount_budget)}
    if c.gmv_min is not None:
        # as 1688 counts it: the baseline plus the counting programs' revenue; what counted is
        # said beside the value (the merchant checks it against 1688's own figure)
        baseline = float(scenario.merchant.baseline_gmv)
        counted = float(ev["gmv"].sum()) / 100
        constraints[GMV_MIN] = {"value": round(baseline + counted, 2),
                                "limit": float(c.gmv_min),
                                "baseline": round(baseline, 2),
                                "counted_revenue": round(counted, 2),
                                "counted_programs": [pid for pid, p in programs.items()
                                                     if p["counts_toward_gmv"]]}
    finite = np.isfinite
    summary = {
        "name": scenario.name,
        "status": result.status,
        "objective": round(result.objective, 6),
        "bound": round(result.bound, 6) if finite(result.bound) else None,
        "gap": result.gap if finite(result.gap) else None,
        "seconds": round(result.seconds, 3),
        "programs": programs,
        "constraints": constraints,
        "solver": {"time_limit_s": scenario.solver.time_limit_s,
                   "relative_gap": scenario.solver.relative_gap, "seed": scenario.solver.seed,
                   "workers": scenario.solver.workers,
                   **{k: (v if not isinstance(v, float) or finite(v) else None)
                      for k, v in result.stats.as_dict().items()}},
    }
    summary["price_vs_market"] = price_vs_market(pb, rulebook, ev)
    summary.update(changes)
    if result.infeasible_reason:
        summary["reason"] = result.infeasible_reason
    excluded = _excluded_table(pb, rulebook, outcome, result, sku_ids, offer_ids)
    return PlanTables(plan, _exits(excluded, pb, today), summary)


@dataclass(frozen=True)
class Written:
    """Which run's files the output folder holds after write_outputs: this run's (`new`), or,
    when this run found no plan, the earlier run whose plan was kept (`run` None: a folder from
    before manifests, whose summary.json says it holds a plan)."""

    new: bool
    run: Run | None

    def describe(self) -> str:
        return self.run.describe() if self.run is not None else "an earlier run"


def kept_plan(outdir: Path) -> Written | None:
    """The folder's plan, when it holds one a run without a plan must not replace: its manifest
    (or, from before manifests, its summary.json) says OPTIMAL or FEASIBLE."""
    outdir = Path(outdir)
    if not outdir.is_dir():
        return None
    try:
        tidy(outdir)
        run = read_run(outdir)
    except (InputError, OSError):
        run = None
    if run is not None:
        return Written(False, run) if run.status in PLAN_STATUSES and "plan.csv" in run.files \
            else None
    try:
        status = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))["status"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Written(False, None) if status in PLAN_STATUSES and (outdir / "plan.csv").is_file() \
        else None


def write_outputs(outdir: Path, tables: PlanTables, *, xlsx: bool = False,
                  lang: str = "en") -> Written:
    """All files or none, as one commit (optimizer/outdir.py): plan.csv, excluded.csv,
    summary.json, plan.xlsx with `xlsx` (without it an earlier plan.xlsx is removed, and an
    earlier report.html always: they would describe another run).

    A run without a plan (INFEASIBLE, NO_SOLUTION) writes nothing when the folder holds a plan
    (kept_plan): it never replaces a good plan with an empty one; into a folder without a plan
    it writes its files (summary.json with the status and the reason).

    Each file is flushed to disk and hashed while the next is made (the largest first).
    `lang` "zh" gives Chinese headers, and the CSV files then start with a UTF-8 BOM, without
    which Excel reads them in the system's code page (GBK on a Chinese Windows) and shows the
    headers garbled."""
    check_lang(lang)
    status = str(tables.summary["status"])
    if status not in PLAN_STATUSES:
        kept = kept_plan(outdir)
        if kept is not None:
            log.info("%s: no plan found; the folder keeps the plan of %s", outdir,
                     kept.describe())
            return kept
    bom = b"\xef\xbb\xbf" if lang == "zh" else b""
    with output_set(outdir, "solve", status=status) as stage:
        with stage.open("excluded.csv") as fh:
            fh.write(bom)
            write_csv(fh, EXCLUDED_COLUMNS, tables.excluded, headers(EXCLUDED_COLUMNS, lang))
        with stage.open("plan.csv") as fh:
            fh.write(bom)
            write_csv(fh, PLAN_COLUMNS, tables.plan, headers(PLAN_COLUMNS, lang))
        stage.write("summary.json", strict_json(tables.summary).encode("utf-8"))
        if xlsx:
            write_xlsx(stage.path("plan.xlsx"), tables.plan, tables.excluded, tables.summary,
                       lang)
    return Written(True, stage.committed)
