"""The repository stands alone: nothing in the package, its tests or its benchmarks reads the
team's folder beside the clone, which a user's clone does not have. CI runs with that folder
beside the clone, so a test that needed it would pass there and fail for every user."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIBLING = "../" + "shared"  # spelled apart so that this file does not match itself


def test_no_code_reads_the_sibling_folder() -> None:
    offenders = []
    files = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for folder in ("optimizer", "tests", "benchmarks", "scenarios", "docs", ".ci"):
        files += sorted((ROOT / folder).rglob("*"))
    for path in files:
        if not path.is_file() or path.suffix in {".parquet", ".xlsx", ".pyc"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{path.relative_to(ROOT)}:{i}" for i, line in
                      enumerate(text.splitlines(), 1) if SIBLING in line]
    assert offenders == []


def test_vendored_gap_data_carries_its_licence() -> None:
    data = ROOT / "benchmarks" / "gap" / "data"
    assert (data / "LICENSE_fontanf_MIT.txt").read_text().startswith("MIT License")
    assert len(list((data / "cattrysse1994").iterdir())) >= 60
