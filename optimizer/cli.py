"""The command line: a thin wrapper mapping outcomes to exit codes (SPEC 5).

0 plan written; 2 invalid input; 3 infeasible; 4 no solution in time; 5 the audit found broken
rules; 1 internal error. The codes are defined here and nowhere else: below the command line the
code returns statuses and outcomes (and raises InputError), never an exit code.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from optimizer.load import InputError
from optimizer.outdir import WriteError

if TYPE_CHECKING:
    from optimizer.sweep import SweepOutcome

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_AUDIT = \
    0, 1, 2, 3, 4, 5

log = logging.getLogger("optimizer")
T = TypeVar("T")


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("optimizer")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _guarded(run: Callable[[], T]) -> T:
    """Run a command's work, mapping bad input to exit 2 and anything else to exit 1, with a
    message and no traceback (-vv logs it)."""
    try:
        return run()
    except InputError as exc:
        click.echo(f"error: invalid input\n{exc.render()}", err=True)
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        click.echo("interrupted; nothing written", err=True)
        sys.exit(EXIT_INTERNAL)
    except WriteError as exc:  # a full disk, a lost permission: the file named
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)


def solve_exit_code(status: str) -> int:
    """A solve's status as its exit code: a plan 0, infeasible 3, no plan in time 4."""
    from optimizer.solve import FEASIBLE, INFEASIBLE, NO_SOLUTION, OPTIMAL

    codes: dict[str, int] = {OPTIMAL: EXIT_OK, FEASIBLE: EXIT_OK, INFEASIBLE: EXIT_INFEASIBLE,
                             NO_SOLUTION: EXIT_NO_SOLUTION}
    return codes[status]


def sweep_exit_code(outcome: SweepOutcome) -> int:
    """0 when every point has an answer (a plan or INFEASIBLE), 4 when some found no plan in
    time (its files are written all the same)."""
    return EXIT_NO_SOLUTION if outcome.unanswered else EXIT_OK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="enroll-opt")
def main() -> None:
    """enroll-opt: which SKUs to enroll in which 1688.com programs, at what price."""


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "outdir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder (default ./out/<scenario name>/).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: the CP-SAT log).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("--xlsx", is_flag=True,
              help="Also write plan.xlsx (plan, exclusions and summary sheets).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Language of the column headers and sheet names (zh: Chinese).")
@click.option("--report", "with_report", is_flag=True,
              help="Also write report.html (charts; opens offline) when a plan is written.")
def solve(scenario: Path, outdir: Path | None, verbose: int, quiet: bool, xlsx: bool,
          lang: str, with_report: bool) -> None:
    """Solve SCENARIO.yaml and write plan.csv, excluded.csv and summary.json."""
    _setup_logging(verbose, quiet)
    from optimizer.pipeline import run_solve

    outcome = _guarded(lambda: run_solve(scenario, outdir, xlsx=xlsx, lang=lang))
    click.echo(outcome.text)
    code = solve_exit_code(outcome.status)
    if with_report and code == EXIT_OK:
        _report(outcome.outdir, after="plan written; ", fail=EXIT_INTERNAL)
    sys.exit(code)


@main.command("generate")
@click.option("--skus", type=click.IntRange(min=1), required=True, help="Number of SKUs.")
@click.option("--offers", type=click.IntRange(min=1), default=None,
              help="Number of offers (default SKUs / 4; 1 to 12 SKUs an offer).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="Catalogue file format.")
@click.option("-o", "--out", "outdir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Output folder (created if missing).")
def generate_command(skus: int, offers: int | None, seed: int, fmt: str, outdir: Path) -> None:
    """Write a synthetic catalogue and scenario.yaml: same arguments, same bytes."""
    from optimizer.generate import generate

    try:
        path = generate(skus, offers, seed, outdir, fmt=fmt)
    except ValueError as exc:
        click.echo(f"error: invalid input\n{exc}", err=True)
        sys.exit(EXIT_INPUT)
    except OSError as exc:
        click.echo(f"error: cannot write {outdir}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_INPUT)
    click.echo(path)


@main.command("sweep")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="PATH=START:STOP:N",
              help="A numeric field of the scenario or of a program (e.g. "
                   "programs.offsite.fees.help_sell_commission=0:0.05:11) and N values from "
                   "START to STOP; several --set make a grid.")
@click.option("-o", "--out", "outdir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder (default ./out/<scenario name>-sweep/).")
@click.option("--breakeven", is_flag=True,
              help="Per program, the fee at which its margin reaches zero (one fee --set).")
@click.option("--per-sku", is_flag=True,
              help="With --breakeven: breakeven.csv, the rate at which each SKU stops paying.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local worker processes (default: the number of CPUs).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the points on this Dask distributed scheduler instead "
                   "(e.g. tcp://10.0.0.5:8786).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: every solver line).")
@click.option("-q", "--quiet", is_flag=True, help="No progress; only warnings and errors.")
def sweep_command(scenario: Path, sets: tuple[str, ...], outdir: Path | None, breakeven: bool,
                  per_sku: bool, workers: int | None, scheduler: str | None, verbose: int,
                  quiet: bool) -> None:
    """Solve SCENARIO.yaml over a grid of parameter values; write sweep.csv and sweep.json."""
    _setup_logging(verbose, quiet)
    from optimizer.sweep import run_sweep
    from optimizer.sweep.progress import SweepProgress

    outcome = _guarded(lambda: run_sweep(scenario, sets, outdir, breakeven=breakeven,
                                         per_sku=per_sku, workers=workers, scheduler=scheduler,
                                         progress=SweepProgress(enabled=not quiet)))
    click.echo(outcome.text)
    sys.exit(sweep_exit_code(outcome))


def _report(outdir: Path, after: str = "", fail: int = EXIT_INPUT) -> None:
    """Write OUTDIR/report.html and print its path. An unusable folder or an unwritable file
    exits `fail` (2 for `report`; 1 after solve, whose own folder should always do), a bug 1."""
    from optimizer.report import write_report

    try:
        click.echo(write_report(outdir))
    except InputError as exc:
        click.echo(f"error: {after}cannot make the report\n{exc.render()}", err=True)
        sys.exit(fail)
    except WriteError as exc:
        click.echo(f"error: {after}{exc}", err=True)
        sys.exit(fail)
    except OSError as exc:
        click.echo(f"error: {after}cannot write {outdir}/report.html: {exc.strerror or exc}",
                   err=True)
        sys.exit(fail)
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        click.echo(f"internal error: {after}report: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)


@main.command("report")
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def report_command(outdir: Path, verbose: int, quiet: bool) -> None:
    """Write OUTDIR/report.html from a solve or sweep output folder (self-contained, offline)."""
    _setup_logging(verbose, quiet)
    _report(outdir)


@main.command("audit")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("-o", "--out", "outdir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder (default ./out/<scenario name>-audit/).")
@click.option("--optimum", is_flag=True,
              help="Also solve the scenario: its objective, bound and the margin the plan "
                   "leaves on the table.")
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def audit_command(scenario: Path, plan: Path, outdir: Path | None, optimum: bool, verbose: int,
                  quiet: bool) -> None:
    """Check PLAN (plan.csv or plan.xlsx) against every rule of SCENARIO.yaml; write audit.csv
    and audit.json. Exit 0: it keeps every rule; 5: it breaks one."""
    _setup_logging(verbose, quiet)
    from optimizer.plan_audit import run_audit

    outcome = _guarded(lambda: run_audit(scenario, plan, outdir, optimum=optimum))
    click.echo(outcome.text)
    sys.exit(EXIT_OK if outcome.ok else EXIT_AUDIT)


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the scenario file (for editor completion and checking)."""
    from optimizer.schema import scenario_schema_text

    click.echo(scenario_schema_text(), nl=False)
