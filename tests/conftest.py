"""Shared fixtures for the tests in tests/ (sub-folders may add their own conftest).

Keep each group of fixtures in its own marked section; bigger helpers live in tests/helpers.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# The repository root on sys.path, so `tests.helpers` and `tests.reference.brute` import under
# pytest's default (prepend) import mode wherever pytest is started from.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# =============================================================================================
# Every plan a test produces is audited: optimizer.pipeline.run_solve (which `solve`, the CLI and
# the tests call) is wrapped for the whole session, before any test module imports it (not a
# fixture, so hypothesis tests get it too). After each solve the independent auditor checks the
# written plan.csv and summary.json against the scenario (helpers.check_written): a test never
# has to remember to audit, and one whose solve writes a plan the auditor rejects fails.


def _audit_every_solve() -> None:
    import optimizer.pipeline as pipeline

    if getattr(pipeline.run_solve, "audited", False):
        return
    real = pipeline.run_solve

    def run_solve(scenario_path: Path, outdir: Path | None, *args: Any, **kwargs: Any) -> Any:
        from tests.helpers import check_written

        outcome = real(scenario_path, outdir, *args, **kwargs)
        check_written(Path(scenario_path), Path(outcome.outdir), str(outcome.result.status))
        return outcome

    run_solve.audited = True  # type: ignore[attr-defined]
    pipeline.run_solve = run_solve  # type: ignore[assignment]


_audit_every_solve()

from tests import helpers  # noqa: E402
from tests.helpers import SolveCase, WriteCase  # noqa: E402

# =============================================================================================
# Hypothesis: reproducible by default. `derandomize=True` draws every test's examples from a seed
# derived from the test itself, so CI and a developer see the same examples run after run, and
# no example database carries state between runs. A test's own @settings(...) still sets its
# example count; only the randomness is fixed. To explore with fresh random examples:
#   HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/...
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# =============================================================================================
# Rule tests: write a tiny case, solve it, audit it (tests/test_rules.py, tests/test_property.py)


@pytest.fixture
def write_case(tmp_path: Path) -> WriteCase:
    """`write_case(rows, **scenario_overrides) -> scenario path`, each call in a fresh folder
    of tmp_path (see helpers.write_case for the defaults: every row passes every required
    column check, the merchant passes every merchant rule, solver limit 10 s, gap 1e-4)."""
    n = count(1)

    def write(rows: Sequence[Mapping[str, Any]], **overrides: Any) -> Path:
        return helpers.write_case(tmp_path / f"case{next(n)}", rows, **overrides)

    return write


@pytest.fixture
def solve_case() -> SolveCase:
    """`solve_case(scenario) -> (Outcome, plan rows, excluded rows)`; the written plan and
    summary are always audited and must be clean (helpers.solve_case)."""
    return helpers.solve_case


# end of the rule-test fixtures
# =============================================================================================
