"""load -> rulebook -> rules, written once: what every command starts from (solve, sweep, and the
commands to come, audit and explain).

`prepare(path)` does it all. It is two steps for the commands that must refuse something of their
own in between, before the rules run (solve: the output folder; sweep: the grid), so that with
several mistakes the same one is reported first: `load_inputs(path)`, then `.evaluate()`.
Both raise InputError on bad input (nothing is written here); nothing here knows exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from optimizer.load import InputError, load_catalogue, load_scenario
from optimizer.load.current import Current, load_current
from optimizer.load.errors import InputProblem
from optimizer.load.types import Catalogue, Scenario, YamlSource
from optimizer.rules.eligibility import RuleOutcome, evaluate_rules
from optimizer.rules.rulebook import Rulebook, build_rulebook, deep_merge, read_rulebook


@dataclass(frozen=True)
class LoadedInputs:
    """The scenario, its catalogue and its merged rulebook, all validated; rules not yet run."""

    scenario: Scenario
    source: YamlSource
    catalogue: Catalogue
    rulebook: Rulebook
    rulebook_file: tuple[dict[str, Any], str]  # the rulebook as read (and its path): sweep
    # merges each grid point's overrides over this one reading
    current: Current  # today's enrollments (SPEC 6.1); Current.empty() without `current:`

    def evaluate(self) -> PreparedInputs:
        """The merchant and SKU rules over the catalogue. A rule reading a field that does not
        exist is the rulebook's mistake: InputError naming it."""
        try:
            rules = evaluate_rules(self.rulebook, self.scenario.merchant, self.catalogue)
        except KeyError as exc:
            raise InputError.one(self.scenario.rulebook, "", str(exc.args[0]),
                                 f"a rule reads a field that does not exist: {exc.args[0]}"
                                 ) from None
        return PreparedInputs(**{f.name: getattr(self, f.name) for f in fields(self)},
                              rules=rules)


@dataclass(frozen=True)
class PreparedInputs(LoadedInputs):
    """Everything a command needs before scoring: the inputs and which SKU x program pairs
    pass the rules (and why the others do not)."""

    rules: RuleOutcome


def load_inputs(scenario_path: Path, *, several_months: bool = False) -> LoadedInputs:
    """Read and validate the scenario, the catalogue it names (beside it), its rulebook with
    the scenario's overrides merged in, and today's enrollments (`current:`, against the
    catalogue and the merged rulebook's programs). InputError on bad input.

    `several_months`: the caller handles `periods:` of several months (or one month with its
    own overrides) itself (`audit`, SPEC 6.3); they are validated, not refused. The rest of
    the result is the scenario's own blocks, not any month's."""
    scenario, source = load_scenario(scenario_path)
    catalogue = load_catalogue(source.file.parent / scenario.catalogue)
    read = read_rulebook(scenario, source)
    rulebook = build_rulebook(scenario, source, read)
    _check_months(scenario, source, read, refuse=not several_months)
    current = (Current.empty() if scenario.current is None else
               load_current(source.file.parent / scenario.current, catalogue,
                            tuple(rulebook.programs), int(scenario.price_step * 100)))
    return LoadedInputs(scenario, source, catalogue, rulebook, read, current)


def prepare(scenario_path: Path) -> PreparedInputs:
    """load_inputs, then the rules. InputError on bad input."""
    return load_inputs(scenario_path).evaluate()


def _check_months(scenario: Scenario, source: YamlSource,
                  read: tuple[dict[str, Any], str], *, refuse: bool = True) -> None:
    """SPEC 6.3 `periods:`: every month's overrides are validated as the scenario's own are
    (merged over it, with the rulebook), then several months are refused: they are not solved
    yet (issue 16), and a one-month plan of a several-month scenario would be a wrong answer.
    Nothing is written before this runs. A one-month list with overrides is refused too: the
    auditor reads the scenario's own blocks, so applying them here alone would make solve and
    audit disagree. `refuse` False (audit, which checks each month): validated only."""
    periods = scenario.periods
    if isinstance(periods, list):
        book_ids = list(read[0].get("programs") or {})
        for i, month in enumerate(periods):
            _check_month(scenario, source, read, book_ids, i, month.programs,
                         month.constraints)
    if not refuse:
        return
    if scenario.months > 1:
        raise InputError.one(source.file, source.where(("periods",)), "periods",
                             f"several months (periods: {scenario.months}) are not solved yet; "
                             "see issue 16")
    if isinstance(periods, list) and (periods[0].programs is not None
                                      or periods[0].constraints is not None):
        raise InputError.one(source.file, source.where(("periods", 0)), "periods.0",
                             "one month with its own programs or constraints: write them in the "
                             "scenario's programs and constraints blocks (per-month overrides "
                             "are for several months, which are not solved yet; see issue 16)")


def _check_month(scenario: Scenario, source: YamlSource, read: tuple[dict[str, Any], str],
                 book_ids: list[str], i: int, programs: dict[str, Any] | None,
                 constraints: Any) -> None:
    """Month i's scenario (its overrides merged over the scenario's) through build_rulebook,
    its problems named at the month's own lines and keys."""
    if programs is None and constraints is None:
        return
    update: dict[str, Any] = {}
    if programs is not None:
        base = (scenario.programs if scenario.programs is not None
                else {pid: {} for pid in book_ids})
        update["programs"] = deep_merge({k: v or {} for k, v in base.items()},
                                        {k: v or {} for k, v in programs.items()})
    if constraints is not None:
        update["constraints"] = scenario.constraints.model_copy(update={
            k: getattr(constraints, k) for k in constraints.model_fields_set})
    prefix = ("periods", i)
    lines = dict(source.lines)
    for path, line in source.lines.items():
        if path[:2] == prefix and len(path) > 2:
            lines[path[2:]] = line
    month_source = YamlSource(file=source.file, lines=lines)
    try:
        build_rulebook(scenario.model_copy(update=update), month_source, read)
    except InputError as exc:
        raise InputError([
            InputProblem(p.file, p.where, f"periods.{i}.{p.field}"
                         if p.file == str(source.file) and p.field else p.field, p.message)
            for p in exc.problems]) from None
