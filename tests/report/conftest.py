"""Fixtures for the report tests: hand-made output folders (tests/report/builders.py) and one
real generated catalogue solved with `solve --report`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.generate import generate
from tests.report.builders import write_solve_folder, write_sweep_folder


@pytest.fixture
def solve_folder(tmp_path: Path) -> Path:
    return write_solve_folder(tmp_path / "solve")


@pytest.fixture
def sweep_folder(tmp_path: Path) -> Path:
    return write_sweep_folder(tmp_path / "sweep")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated 600-SKU catalogue solved by `enroll-opt solve --report`: (scenario, out)."""
    work = tmp_path_factory.mktemp("gen")
    scenario = generate(600, None, 11, work / "case")
    out = work / "out"
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(out), "-q", "--report"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(out / "report.html")
    return scenario, out

