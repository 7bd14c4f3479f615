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
from optimizer.load.types import Catalogue, Scenario, YamlSource
from optimizer.rules.eligibility import RuleOutcome, evaluate_rules
from optimizer.rules.rulebook import Rulebook, build_rulebook, read_rulebook


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


def load_inputs(scenario_path: Path) -> LoadedInputs:
    """Read and validate the scenario, the catalogue it names (beside it), its rulebook with
    the scenario's overrides merged in, and today's enrollments (`current:`, against the
    catalogue and the merged rulebook's programs). InputError on bad input."""
    scenario, source = load_scenario(scenario_path)
    catalogue = load_catalogue(source.file.parent / scenario.catalogue)
    read = read_rulebook(scenario, source)
    rulebook = build_rulebook(scenario, source, read)
    current = (Current.empty() if scenario.current is None else
               load_current(source.file.parent / scenario.current, catalogue,
                            tuple(rulebook.programs), int(scenario.price_step * 100)))
    return LoadedInputs(scenario, source, catalogue, rulebook, read, current)


def prepare(scenario_path: Path) -> PreparedInputs:
    """load_inputs, then the rules. InputError on bad input."""
    return load_inputs(scenario_path).evaluate()
