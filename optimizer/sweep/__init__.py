"""`enroll-opt sweep`: solve a scenario over a grid of parameter values, and find break-evens.

load, validate and evaluate the rules once -> every point's inputs built and validated (nothing
runs before the whole grid is known to be valid) -> points solved where the user asked (here,
local processes, a Dask cluster), each warm-started from a neighbour fixed by the grid ->
break-even bisection -> sweep.csv, sweep.json (and breakeven.csv), written atomically.

Every point has an answer (a plan, or INFEASIBLE: an infeasible point is an answer, its status is
in the files) unless it found no plan within its time limit: the files are still written, with
NO_SOLUTION there, and the outcome counts such points (`unanswered`; the CLI exits 4). Invalid
input raises InputError, nothing written (the CLI exits 2).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from optimizer.load import InputError
from optimizer.load.errors import InputProblem
from optimizer.plan.writer import check_outdir
from optimizer.prepare import load_inputs
from optimizer.solve import NO_SOLUTION
from optimizer.sweep.breakeven import fee_curves, program_breakeven, sku_breakeven
from optimizer.sweep.execute import Done, Executor, Task, cap_workers, executor
from optimizer.sweep.files import breakeven_csv, sweep_csv, sweep_json, write_files
from optimizer.sweep.grid import (
    Axis,
    Base,
    build_axes,
    decimal_text,
    grid,
    point_inputs,
    warm_parents,
)
from optimizer.sweep.progress import SweepProgress
from optimizer.sweep.runner import PointOutput, PointRecord, PointSpec, Prepared

log = logging.getLogger("optimizer.sweep")

__all__ = ["SweepOutcome", "run_sweep"]

SHOWN_POINTS = 40  # rows of the table printed; the files have them all
_SOLVER_LOGGERS = ("optimizer.solve", "optimizer.model", "optimizer.cpsat", "optimizer.progress")


@dataclass(frozen=True)
class SweepOutcome:
    text: str
    outdir: Path
    axes: tuple[Axis, ...]
    points: tuple[PointRecord, ...]  # grid order
    breakeven: dict[str, Decimal | None] | None

    @property
    def unanswered(self) -> int:
        """Grid points that found no plan within their time limit (NO_SOLUTION)."""
        return sum(p.status == NO_SOLUTION for p in self.points)


@contextmanager
def _quiet_solver() -> Iterator[None]:
    """A point's solver lines are not shown (hundreds of points); -vv shows them again."""
    if logging.getLogger("optimizer").isEnabledFor(logging.DEBUG):
        yield
        return
    saved = {name: logging.getLogger(name).level for name in _SOLVER_LOGGERS}
    for name in _SOLVER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _label(axes: Sequence[Axis], values: Sequence[Decimal]) -> str:
    return ", ".join(f"{a.path}={decimal_text(v)}" for a, v in zip(axes, values, strict=True))


def _options(axes: Sequence[Axis], breakeven: bool, per_sku: bool) -> None:
    problems = []
    if per_sku and not breakeven:
        problems.append(InputProblem("--per-sku", "", "", "goes with --breakeven"))
    if breakeven and (len(axes) != 1 or not axes[0].fee_rate):
        problems.append(InputProblem("--breakeven", "", "",
                                     "needs exactly one --set, on a fee rate "
                                     "(programs.<program>.fees.<item>) or a fee group's cap "
                                     "(fees.<group>.cap)"))
    if problems:
        raise InputError(problems)


def run_sweep(scenario_path: Path, sets: Sequence[str], outdir: Path | None = None, *,
              breakeven: bool = False, per_sku: bool = False, workers: int | None = None,
              scheduler: str | None = None, progress: SweepProgress | None = None
              ) -> SweepOutcome:
    """Sweep a scenario over the grid of `sets` (PATH=START:STOP:N each) and write the files.

    Raises InputError (nothing written) for a bad scenario, a bad --set, a grid value outside
    its field's range, bad options, or an unreachable scheduler."""
    from optimizer.pipeline import safe_folder_name

    progress = progress if progress is not None else SweepProgress(enabled=False)
    loaded = load_inputs(scenario_path)
    scenario, catalogue, rulebook = loaded.scenario, loaded.catalogue, loaded.rulebook
    base = Base.read(scenario, loaded.source, loaded.rulebook_file)
    axes = build_axes(base, sets)
    _options(axes, breakeven, per_sku)
    rule_axes = [i for i, a in enumerate(axes) if a.reads_rules]
    specs = []
    for i, values in enumerate(grid(axes)):
        point_scenario, point_rulebook = point_inputs(base, axes, values)
        rules_key = tuple(values[j] for j in rule_axes) if rule_axes else None
        specs.append(PointSpec(f"grid-{i}", values, point_scenario, point_rulebook, rules_key))
    outcome = loaded.evaluate().rules
    shape = tuple(len(a.values) for a in axes)
    parents = warm_parents(shape)
    tasks = [Task(spec, None if parents[i] is None else f"grid-{parents[i]}")
             for i, spec in enumerate(specs)]
    prep = Prepared(catalogue, outcome, loaded.current)
    n_workers = cap_workers(workers, len(specs))
    labels = {s.key: _label(axes, s.values) for s in specs}

    def done(out: PointOutput) -> None:
        record = out[0]
        progress.point(record, labels.get(record.key) or _label(axes, record.values))

    out = outdir if outdir is not None else \
        Path("out") / f"{safe_folder_name(scenario.name)}-sweep"
    check_outdir(out)
    be: dict[str, Decimal | None] | None = None
    log.info("%d point(s) over %s; %s", len(specs), " x ".join(a.path for a in axes),
             f"Dask scheduler {scheduler}" if scheduler else f"{n_workers} process(es)")
    with _quiet_solver(), executor(prep, n_workers, scheduler) as ex:
        progress.add(len(tasks), "grid")
        outputs = ex.run(tasks, done)
        points = tuple(outputs[s.key][0] for s in specs)
        programs = tuple(points[0].programs)
        if breakeven:
            be = _bisect(ex, base, axes[0], specs, points, programs, progress, done)
    progress.close()
    files = {"sweep.csv": sweep_csv(axes, programs, points),
             "sweep.json": sweep_json(scenario.name, axes, programs, points,
                                      None if be is None else (axes[0].path, be),
                                      {pid: p.name_zh for pid, p in rulebook.programs.items()})}
    if per_sku:
        ax = axes[0]
        curves = fee_curves(rulebook, lambda x: point_inputs(base, [ax], [x])[1])
        per = sku_breakeven(scenario, rulebook, catalogue, outcome, curves)
        files["breakeven.csv"] = breakeven_csv(ax.path, catalogue.sku_id.tolist(), per)
    write_files(out, files)
    return SweepOutcome(_text(axes, points, be, out, list(files)), out, tuple(axes), points, be)


def _bisect(ex: Executor, base: Base, axis: Axis, specs: Sequence[PointSpec],
            points: Sequence[PointRecord], programs: Sequence[str], progress: SweepProgress,
            done: Done) -> dict[str, Decimal | None]:
    """Per program break-even by bisection: each round's midpoints run together."""
    key_of = {s.values[0]: s.key for s in specs}

    def margins(record: PointRecord) -> dict[str, int] | None:
        return {p: f.margin_fen for p, f in record.programs.items()} if record.has_plan \
            else None

    def evaluate(asks: list[tuple[Decimal, Decimal]]) -> dict[Decimal, dict[str, int] | None]:
        tasks = []
        for x, warm_from in asks:
            scenario, rulebook = point_inputs(base, [axis], [x])
            key = f"x-{decimal_text(x)}"
            tasks.append(Task(PointSpec(key, (x,), scenario, rulebook, None), key_of[warm_from]))
            key_of[x] = key
        progress.add(len(tasks), "break-even bisection")
        got = ex.run(tasks, done)
        return {x: margins(got[key_of[x]][0]) for x, _ in asks}

    values = [s.values[0] for s in specs]
    result = program_breakeven(programs, values, [margins(p) for p in points], evaluate)
    for pid, x in result.items():
        if x is None:
            log.info("break-even %s: no step in the grid from a positive margin to zero", pid)
        else:
            log.info("break-even %s: margin zero from %s = %s", pid, axis.path, decimal_text(x))
    return result


def _text(axes: Sequence[Axis], points: Sequence[PointRecord],
          be: dict[str, Decimal | None] | None, out: Path, files: list[str]) -> str:
    # each axis column as wide as its path (never cut: paths differ only at their ends)
    widths = [max(len(a.path), *(len(decimal_text(v)) for v in a.values)) + 2 for a in axes]
    head = "".join(f"{a.path:>{w}}" for a, w in zip(axes, widths, strict=True))
    lines = [f"{head}{'status':>13}{'objective':>20}{'gap':>10}"]
    for r in points[:SHOWN_POINTS]:
        values = "".join(f"{decimal_text(v):>{w}}" for v, w in zip(r.values, widths, strict=True))
        objective = "-" if r.objective is None else f"{r.objective:,.2f}"
        gap = "-" if r.gap is None else f"{r.gap:.4%}"
        lines.append(f"{values}{r.status:>13}{objective:>20}{gap:>10}")
    if len(points) > SHOWN_POINTS:
        lines.append(f"... {len(points) - SHOWN_POINTS} more in sweep.csv")
    if be is not None:
        for pid, x in be.items():
            where = "no zero crossing in the grid" if x is None else \
                f"{axes[0].path} = {decimal_text(x)}"
            lines.append(f"break-even {pid}: {where}")
    lines.append(f"written: {out}/" + ", ".join(files))
    return "\n".join(lines)
