"""load -> rules -> score -> model -> solve -> plan, as one call the CLI can make."""

from __future__ import annotations

from pathlib import Path

from optimizer.load import load_catalogue, load_scenario


def run_solve(scenario_path: Path, outdir: Path | None) -> int:
    """Solve one scenario file; returns the exit code. Raises InputError on bad input."""
    scenario, source = load_scenario(scenario_path)
    load_catalogue(source.file.parent / scenario.catalogue)
    raise NotImplementedError("solve pipeline not wired yet")
