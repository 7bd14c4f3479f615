"""Evaluation core: the best lattice price of every pair-variant, closed form vs enumeration.

For every SKU x program x fee variant (pv) of a generated case, the best price on the fen lattice
[lo, hi] of the margin u(p) * (alpha p - beta), alpha = 1 - fee, beta = cost:

(a) enroll-opt's closed form, `optimizer.score.candidates.peak_price`: the peak of the unimodal
    function and its two lattice neighbours plus the ends, four evaluations per pv, exact;
(b) a straightforward numpy evaluation of every lattice price of every pv (in chunks of at most
    2 x --chunk prices, so memory stays bounded), taking the argmax per pv.

Both run on the same Problem in the same process. Reported: lattice candidates per second for
both (for (a), the lattice prices it covers), (a)'s raw pairs per second, the ratio; and the check
that both give the same best value for every pv (exactly or within 1e-9 relative), which fails
the run (exit 1) if it does not hold.

    python benchmarks/bench_eval.py --case 10k --json eval.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.load import load_catalogue, load_scenario
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.candidates import lattice_size, peak_price
from optimizer.score.problem import Problem, build_problem

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_WORKDIR, case_named, ensure_case

REL_TOL = 1e-9
DEFAULT_CHUNK = 1 << 21


def load_problem(scenario_path: Path) -> Problem:
    scenario, source = load_scenario(scenario_path)
    catalogue = load_catalogue(source.file.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    outcome = evaluate_rules(rulebook, scenario.merchant, catalogue)
    return build_problem(scenario, rulebook, catalogue, outcome)


def enumerate_best(pb: Problem, alpha: np.ndarray, beta: np.ndarray, chunk: int = DEFAULT_CHUNK
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Best lattice price per pv and its value by evaluating every lattice price; also the
    number of evaluations. A pv's lattice is cut into segments of at most `chunk` prices and
    consecutive segments are evaluated together, at most 2 x `chunk` prices at a time."""
    step = pb.step
    counts = (pb.pv_hi - pb.pv_lo) // step + 1
    n_seg = -(-counts // chunk)
    seg_pv = np.repeat(np.arange(pb.m), n_seg)
    first_seg = np.repeat(np.cumsum(n_seg) - n_seg, n_seg)
    seg_start = (np.arange(seg_pv.size) - first_seg) * chunk  # offset in the pv's lattice
    seg_len = np.minimum(counts[seg_pv] - seg_start, chunk)
    ends = np.cumsum(seg_len)
    group = (ends - 1) // chunk  # a group holds < 2 x chunk prices
    cuts = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    seg_val = np.empty(seg_pv.size)
    seg_price = np.empty(seg_pv.size, np.int64)
    for a, b in itertools.pairwise(cuts):
        pv, length = seg_pv[a:b], seg_len[a:b]
        total = int(length.sum())
        offsets = np.cumsum(length) - length
        flat_pv = np.repeat(pv, length)
        within = np.arange(total) - np.repeat(offsets, length) + np.repeat(seg_start[a:b], length)
        price = pb.pv_lo[flat_pv] + within * step
        units = pb.pv_demand[flat_pv] * (price / pb.pv_market[flat_pv]) ** (-pb.pv_elast[flat_pv])
        value = units * (alpha[flat_pv] * price - beta[flat_pv])
        best = np.maximum.reduceat(value, offsets)
        seg_id = np.repeat(np.arange(b - a), length)
        hits = np.flatnonzero(value == best[seg_id])
        first = np.full(b - a, total, np.int64)
        np.minimum.at(first, seg_id[hits], hits)
        seg_val[a:b] = best
        seg_price[a:b] = price[first]
    best_val = np.full(pb.m, -np.inf)
    np.maximum.at(best_val, seg_pv, seg_val)
    best_price = np.full(pb.m, np.iinfo(np.int64).max)
    top = seg_val == best_val[seg_pv]
    np.minimum.at(best_price, seg_pv[top], seg_price[top])
    return best_price, best_val, int(counts.sum())


def _best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(max(repeat, 1)):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench(pb: Problem, chunk: int, repeat: int) -> dict[str, Any]:
    alpha = 1.0 - pb.pv_fee
    beta = pb.pv_cost.astype(np.float64)
    lattice = lattice_size(pb)
    t_a, (p_a, v_a, _) = _best_time(lambda: peak_price(pb, alpha, beta), repeat)
    t_b, (p_b, v_b, evals) = _best_time(lambda: enumerate_best(pb, alpha, beta, chunk), repeat)
    diff = np.abs(v_a - v_b)
    tol = REL_TOL * np.maximum(np.maximum(np.abs(v_a), np.abs(v_b)), 1e-300)
    mismatch = np.flatnonzero(diff > tol)
    counts = (pb.pv_hi - pb.pv_lo) // pb.step + 1
    return {
        "pair_variants": pb.m, "lattice_prices": lattice, "max_lattice_per_pv": int(counts.max()),
        "median_lattice_per_pv": float(np.median(counts)), "chunk": chunk, "repeat": repeat,
        "closed_form": {"seconds": t_a, "pairs_per_s": pb.m / t_a,
                        "lattice_candidates_per_s": lattice / t_a,
                        "evaluations": 4 * pb.m},
        "enumeration": {"seconds": t_b, "evaluations": evals,
                        "lattice_candidates_per_s": evals / t_b, "pairs_per_s": pb.m / t_b},
        "ratio_candidates_per_s": (lattice / t_a) / (evals / t_b),
        "same_best_value": int(pb.m - mismatch.size),
        "exactly_equal_values": int((v_a == v_b).sum()),
        "same_best_price": int((p_a == p_b).sum()),
        "max_relative_difference": float((diff / np.maximum(np.abs(v_b), 1e-300)).max())
        if pb.m else 0.0,
        "mismatches": [{"pv": int(i), "closed_form": [int(p_a[i]), float(v_a[i])],
                        "enumeration": [int(p_b[i]), float(v_b[i])]} for i in mismatch[:10]],
        "all_equal": bool(mismatch.size == 0),
    }


def markdown(r: dict[str, Any]) -> str:
    a, b = r["closed_form"], r["enumeration"]
    return "\n".join([
        f"Case `{r['case']}`: {r['skus']:,} SKUs, {r['pair_variants']:,} pair-variants, "
        f"{r['lattice_prices']:,} lattice prices (median {r['median_lattice_per_pv']:,.0f}, "
        f"max {r['max_lattice_per_pv']:,} per pv); best of {r['repeat']}.", "",
        "| method | seconds | lattice candidates / s | pairs / s |", "|---|---|---|---|",
        "| closed form (`peak_price`: the two lattice neighbours of the peak) "
        f"| {a['seconds']:.4f} "
        f"| {a['lattice_candidates_per_s']:,.0f} | {a['pairs_per_s']:,.0f} |",
        f"| numpy enumeration of every lattice price | {b['seconds']:.3f} "
        f"| {b['lattice_candidates_per_s']:,.0f} | {b['pairs_per_s']:,.0f} |", "",
        f"Ratio (candidates / s): {r['ratio_candidates_per_s']:,.0f}x. Same best value for "
        f"{r['same_best_value']:,} of {r['pair_variants']:,} pairs ({r['exactly_equal_values']:,} "
        f"bit-identical, same price for {r['same_best_price']:,}).",
    ]) + "\n"


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--case", default="10k", help="a harness case (default 10k) or a size")
    ap.add_argument("--scenario", type=Path, default=None, help="a scenario file instead")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    ap.add_argument("--chunk", type=int, default=DEFAULT_CHUNK,
                    help="lattice prices per segment (memory bound of the enumeration)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args(argv)
    if a.scenario is not None:
        scenario, name = a.scenario, str(a.scenario)
    else:
        folder, _ = ensure_case(case_named(a.case), a.workdir)
        scenario, name = folder / "scenario.yaml", a.case
    pb = load_problem(scenario)
    r = {"case": name, "scenario": str(scenario), "skus": pb.n, **bench(pb, a.chunk, a.repeat)}
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if a.json is not None:
        a.json.write_text(json.dumps(r, indent=1) + "\n", encoding="utf-8")
    text = markdown(r)
    print(text if a.markdown else text.replace("| ", " ").replace(" |", " "))
    if not r["all_equal"]:
        raise AssertionError(f"closed form and enumeration disagree on "
                             f"{r['pair_variants'] - r['same_best_value']} pairs: "
                             f"{r['mismatches']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
