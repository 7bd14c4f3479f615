"""A generic selection engine: pick at most (or exactly) one option per item under capacity rows.

This is the solver-facing core that the enrollment model reduces to once prices are fixed: items
are SKUs, options are programs, values are margins and each capacity row is one program-wide limit.
It lives with the GAP benchmark, not in the package: the optimizer's own models are in
`optimizer/model/`. It contains the Generalized Assignment Problem (items = jobs, options =
agents, exactly one option per item), so it can be checked against published GAP optima
(tests/model/test_gap.py, benchmarks/bench_gap.py) independently of the rest of the optimizer.

The model is built an array at a time: one Boolean per *eligible* (item, option) pair only, one
`add_exactly_one` / `add_at_most_one` per item, one `weighted_sum` per capacity row, all with
integer coefficients (CP-SAT is exact over integers, so callers scale and round themselves).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from ortools.sat.python import cp_model

log = logging.getLogger(__name__)
cpsat_log = logging.getLogger("optimizer.cpsat")

# CP-SAT rejects models whose linear sums can overflow int64; stay well clear of that.
_COEF_LIMIT = 2**53

# Two of CP-SAT's LP cut families (Chvatal-Gomory, zero-half) off. Measured on gap1..gap12
# (120 solves, 1 worker, CPU seconds per pass over seeds 0/1/2): 30.9/32.1/31.3 -> 22.0/20.4/23.7,
# slowest solve 1.24/1.88/1.81 -> 0.82/1.12/1.38 s; on 15 chu1997 a/b/c instances a single
# worker proves, 27.6/27.0 -> 18.4/28.1 s (seeds 0/1). MIR and knapsack cuts stay on (turning MIR
# off is 3x slower). Generic settings, not GAP-specific; `params` overrides them.
DEFAULT_PARAMS = "add_cg_cuts:false add_zero_half_cuts:false"

_STATUS = {
    cp_model.OPTIMAL: "OPTIMAL",
    cp_model.FEASIBLE: "FEASIBLE",
    cp_model.INFEASIBLE: "INFEASIBLE",
    cp_model.UNKNOWN: "NO_SOLUTION",
}


def _int_array(name: str, values: ArrayLike, ndim: int) -> np.ndarray:
    """Integer array of the given rank; refuses floats so no one silently truncates margins."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integers (scale and round before), got {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class SelectionData:
    """Items x options as flat arrays over the eligible pairs only; capacities as sparse terms.

    Pair k is option `option[k]` for item `item[k]`, worth `value[k]`; pairs not listed are
    ineligible and get no variable at all. Capacity row r is
    `sum(coef[t] * x[pair[t]] for t with row[t] == r) <= capacity[r]`: sparse, because a
    program's limit only touches the pairs that enroll in it (GAP: n of the n*m pairs per row).
    """

    n_items: int
    n_options: int
    item: np.ndarray  # int64[p]
    option: np.ndarray  # int64[p]
    value: np.ndarray  # int64[p]
    row: np.ndarray  # int64[t]: capacity row of each term
    pair: np.ndarray  # int64[t]: pair of each term
    coef: np.ndarray  # int64[t]: what the pair uses of the row
    capacity: np.ndarray  # int64[r]
    exactly_one: np.ndarray  # bool[n_items]; False = at most one
    maximize: bool = True

    def __post_init__(self) -> None:
        p, r = len(self.item), len(self.capacity)
        if not (len(self.option) == len(self.value) == p):
            raise ValueError("item, option and value must have one entry per eligible pair")
        if not (len(self.pair) == len(self.coef) == len(self.row)):
            raise ValueError("row, pair and coef must have one entry per capacity term")
        if self.exactly_one.shape != (self.n_items,):
            raise ValueError("exactly_one must have one flag per item")
        if p and (self.item.min() < 0 or self.item.max() >= self.n_items
                  or self.option.min() < 0 or self.option.max() >= self.n_options):
            raise ValueError("pair item/option index out of range")
        if len(self.row) and (self.row.min() < 0 or self.row.max() >= r
                              or self.pair.min() < 0 or self.pair.max() >= p):
            raise ValueError("capacity term row/pair index out of range")
        if p and np.unique(self.item * self.n_options + self.option).size != p:
            raise ValueError("an (item, option) pair is listed twice")
        # CP-SAT refuses sums that may overflow int64; floats are exact enough for the test.
        if float(np.abs(self.value).sum(dtype=np.float64)) >= _COEF_LIMIT:
            raise ValueError("sum of |value| too large for an exact integer objective")
        row_abs = np.bincount(self.row, np.abs(self.coef).astype(np.float64), minlength=r)
        if r and float((row_abs + np.abs(self.capacity)).max()) >= _COEF_LIMIT:
            raise ValueError("a capacity row's coefficients are too large")

    @property
    def n_pairs(self) -> int:
        return len(self.item)

    def usage(self, chosen_pairs: np.ndarray) -> np.ndarray:
        """What the given pairs use of each capacity row (exact integers)."""
        mask = np.zeros(self.n_pairs, bool)
        mask[chosen_pairs] = True
        used = np.zeros(len(self.capacity), np.int64)
        on = mask[self.pair]
        np.add.at(used, self.row[on], self.coef[on])
        return used

    @classmethod
    def from_pairs(cls, n_items: int, n_options: int, item: ArrayLike, option: ArrayLike,
                   value: ArrayLike, capacity: ArrayLike = (), weight: ArrayLike | None = None,
                   exactly_one: ArrayLike = False, maximize: bool = True) -> SelectionData:
        """From flat (item, option, value) arrays over the eligible pairs; weight[row, pair] is
        dense here (zeros are dropped) - build the dataclass directly for sparse terms."""
        item_a = _int_array("item", item, 1)
        capacity_a = _int_array("capacity", capacity, 1)
        weight_a = (np.zeros((len(capacity_a), len(item_a)), np.int64) if weight is None
                    else _int_array("weight", weight, 2))
        if weight_a.shape != (len(capacity_a), len(item_a)):
            raise ValueError(f"weight must be (rows, pairs) = ({len(capacity_a)}, "
                             f"{len(item_a)}), got {weight_a.shape}")
        row, pair = np.nonzero(weight_a)
        flags = np.broadcast_to(np.asarray(exactly_one, bool), (n_items,)).copy()
        return cls(n_items, n_options, item_a, _int_array("option", option, 1),
                   _int_array("value", value, 1), row, pair, weight_a[row, pair], capacity_a,
                   flags, maximize)

    @classmethod
    def from_matrix(cls, value: ArrayLike, weight: ArrayLike | None = None,
                    capacity: ArrayLike = (), eligible: ArrayLike | None = None,
                    exactly_one: ArrayLike = False, maximize: bool = True) -> SelectionData:
        """From dense value[item, option] and weight[row, item, option]; `eligible` masks pairs."""
        value_m = _int_array("value", value, 2)
        n_items, n_options = value_m.shape
        capacity_a = _int_array("capacity", capacity, 1)
        weight_m = (np.zeros((len(capacity_a), n_items, n_options), np.int64) if weight is None
                    else _int_array("weight", weight, 3))
        if weight_m.shape != (len(capacity_a), n_items, n_options):
            raise ValueError(f"weight must be ({len(capacity_a)}, {n_items}, {n_options}), "
                             f"got {weight_m.shape}")
        mask = np.ones(value_m.shape, bool) if eligible is None else np.asarray(eligible, bool)
        item, option = np.nonzero(mask)
        return cls.from_pairs(n_items, n_options, item, option, value_m[item, option],
                              capacity_a, weight_m[:, item, option], exactly_one, maximize)


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """What CP-SAT proved. `objective` is None without a solution, `bound` None if infeasible.

    `choice[i]` is the option picked for item i, -1 for none. `seconds` is wall time for building
    and solving the model; `deterministic_seconds` is CP-SAT's own work measure, which does not
    move with machine load (comparisons on a shared machine should use it).
    """

    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE or NO_SOLUTION
    objective: int | None
    bound: int | None
    choice: np.ndarray
    seconds: float
    deterministic_seconds: float = 0.0


def read_gap(path: str | Path, maximize: bool = False) -> SelectionData:
    """Read an OR-Library / fontanf GAP file: `m n`, cost[m][n], weight[m][n], capacity[m].

    Jobs become items (exactly one agent each), agents become options with one capacity row each.
    GAP is usually stated as a minimisation; OR-Library's gap1..gap12 optima are maximisations of
    the same numbers, hence the flag.
    """
    numbers = np.array(Path(path).read_text().split(), dtype=np.int64)
    if numbers.size < 2:
        raise ValueError(f"{path}: expected `m n` first")
    m, n = int(numbers[0]), int(numbers[1])
    expected = 2 + 2 * m * n + m
    if numbers.size != expected:
        raise ValueError(f"{path}: expected {expected} integers for m={m}, n={n}, "
                         f"got {numbers.size}")
    cost = numbers[2:2 + m * n].reshape(m, n)
    weight = numbers[2 + m * n:2 + 2 * m * n].reshape(m, n)
    # pair k = job * m + agent; agent a's capacity row holds the n pairs that pick a
    job, agent = np.divmod(np.arange(n * m, dtype=np.int64), m)
    return SelectionData(n_items=n, n_options=m, item=job, option=agent,
                         value=cost[agent, job], row=agent, pair=np.arange(n * m, dtype=np.int64),
                         coef=weight[agent, job], capacity=numbers[2 + 2 * m * n:],
                         exactly_one=np.ones(n, bool), maximize=maximize)


def _pair_of_choice(data: SelectionData, choice: np.ndarray) -> np.ndarray:
    """Pair index of each item's choice; -1 for no choice, -2 for an ineligible option."""
    result = np.where(choice < 0, -1, -2).astype(np.int64)
    if not data.n_pairs:
        return result
    key = data.item * data.n_options + data.option
    order = np.argsort(key)
    valid = (choice >= 0) & (choice < data.n_options)
    wanted = np.arange(data.n_items, dtype=np.int64) * data.n_options + np.where(valid, choice, 0)
    at = order[np.minimum(np.searchsorted(key[order], wanted), data.n_pairs - 1)]
    hit = valid & (key[at] == wanted)
    result[hit] = at[hit]
    return result


def selection_value(data: SelectionData, choice: ArrayLike) -> int:
    """Objective of a choice, recomputed from the data (no solver involved)."""
    pair = _pair_of_choice(data, np.asarray(choice, np.int64))
    return int(data.value[pair[pair >= 0]].sum())


def check_selection(data: SelectionData, choice: ArrayLike) -> list[str]:
    """Every rule a choice breaks, in words (empty = feasible). Independent of the solver."""
    chosen = np.asarray(choice, np.int64)
    if chosen.shape != (data.n_items,):
        return [f"choice has shape {chosen.shape}, expected ({data.n_items},)"]
    problems: list[str] = []
    pair = _pair_of_choice(data, chosen)
    problems += [f"item {i}: option {chosen[i]} is not eligible"
                 for i in np.flatnonzero(pair == -2)]
    problems += [f"item {i}: needs exactly one option, has none"
                 for i in np.flatnonzero((pair == -1) & data.exactly_one)]
    used = data.usage(pair[pair >= 0])
    problems += [f"capacity row {r}: uses {used[r]} > {data.capacity[r]}"
                 for r in np.flatnonzero(used > data.capacity)]
    return problems


def _groups(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): indices sorted by key, and where each key 0..n-1 starts in that order."""
    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(n + 1))


def build_model(data: SelectionData) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The CP-SAT model; variable k (index k in the proto) is eligible pair k."""
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{k}") for k in range(data.n_pairs)]
    xa = np.array(x, dtype=object)
    order, starts = _groups(data.item, data.n_items)
    for i in range(data.n_items):
        group = list(xa[order[starts[i]:starts[i + 1]]])
        if data.exactly_one[i]:
            if group:
                model.add_exactly_one(group)
            else:  # must pick, nothing eligible: say so in the model, CP-SAT reports it
                model.add_bool_or([])
        elif len(group) > 1:
            model.add_at_most_one(group)
    order, starts = _groups(data.row, len(data.capacity))
    for r in range(len(data.capacity)):
        terms = order[starts[r]:starts[r + 1]]
        model.add(cp_model.LinearExpr.weighted_sum(xa[data.pair[terms]], data.coef[terms])
                  <= int(data.capacity[r]))
    objective = cp_model.LinearExpr.weighted_sum(xa, data.value)
    if data.maximize:
        model.maximize(objective)
    else:
        model.minimize(objective)
    return model, x


def _int_bound(bound: float, maximize: bool) -> int:
    """CP-SAT's float bound as an integer bound (the objective is integral)."""
    near = round(bound)
    if abs(bound - near) <= 1e-6 * max(1.0, abs(bound)):
        return int(near)
    return math.floor(bound) if maximize else math.ceil(bound)


def solve_selection(data: SelectionData, time_limit_s: float, workers: int = 1, seed: int = 0,
                    params: str = "", hint: ArrayLike | None = None) -> SelectionResult:
    """Solve with CP-SAT.

    One worker by default: single-threaded CP-SAT is deterministic for a seed (more workers are
    faster on hard instances but not reproducible). `params` is CP-SAT parameters in text format
    ("linearization_level:2"), applied after DEFAULT_PARAMS. `hint` is a known choice per item
    (e.g. yesterday's plan), given to CP-SAT as a complete hint.
    """
    start = time.perf_counter()
    model, x = build_model(data)
    if hint is not None:
        hinted = _pair_of_choice(data, np.asarray(hint, np.int64))
        on = np.zeros(data.n_pairs, bool)
        on[hinted[hinted >= 0]] = True
        for var, value in zip(x, on.tolist(), strict=True):
            model.add_hint(var, value)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    for text in (DEFAULT_PARAMS, params):
        if text and not solver.parameters.merge_text_format(text):
            raise ValueError(f"not CP-SAT parameters in text format: {text!r}")
    if cpsat_log.isEnabledFor(logging.DEBUG):
        solver.parameters.log_search_progress = True
        solver.parameters.log_to_stdout = False
        solver.log_callback = cpsat_log.debug
    code = solver.solve(model)
    if code == cp_model.MODEL_INVALID:
        raise ValueError(f"CP-SAT rejected the model: {model.validate()}")
    choice = np.full(data.n_items, -1, np.int64)
    objective: int | None = None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = np.array(solver.response_proto.solution, np.int64)[:len(x)]
        chosen = np.flatnonzero(values == 1)
        choice[data.item[chosen]] = data.option[chosen]
        objective = int(data.value[chosen].sum())
    raw_bound = solver.best_objective_bound
    bound = None if code == cp_model.INFEASIBLE or not math.isfinite(raw_bound) else \
        _int_bound(raw_bound, data.maximize)
    seconds = time.perf_counter() - start
    status = _STATUS[code]
    log.debug("selection: %s objective=%s bound=%s in %.3fs (%.3f deterministic)",
              status, objective, bound, seconds, solver.deterministic_time)
    return SelectionResult(status, objective, bound, choice, seconds, solver.deterministic_time)
