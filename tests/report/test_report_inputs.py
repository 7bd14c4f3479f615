"""Bad output folders: one clear message naming the file (and field), exit 2, nothing written;
and the CLI around write_report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.load import InputError
from optimizer.report import write_report
from tests.report.builders import EXCLUDED_HEADER, PLAN_HEADER, sweep_doc, write_csv


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _fails(folder: Path, *expected: str) -> str:
    """write_report raises InputError whose text has every `expected` piece; the folder's files
    are exactly as before (a report.html already there is left alone)."""
    (folder / "report.html").write_text("earlier report", encoding="utf-8")
    before = _listing(folder)
    with pytest.raises(InputError) as info:
        write_report(folder)
    text = info.value.render()
    for piece in expected:
        assert piece in text, (piece, text)
    assert _listing(folder) == before
    return text


def test_folder_without_summary_or_sweep(tmp_path: Path) -> None:
    (tmp_path / "plan.csv").write_text("sku_id\n", encoding="utf-8")
    _fails(tmp_path, "no summary.json or sweep.json")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        write_report(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_summary_not_json(solve_folder: Path) -> None:
    (solve_folder / "summary.json").write_text('{"name": "x",\n  "status": }', encoding="utf-8")
    _fails(solve_folder, "summary.json", "line 2", "not valid JSON")


@pytest.mark.parametrize("change, field", [
    (lambda s: s.pop("programs"), "programs"),
    (lambda s: s.__setitem__("objective", "lots"), "objective"),
    (lambda s: s["programs"]["offsite"].__setitem__("enrolled_skus", -1),
     "programs.offsite.enrolled_skus"),
    (lambda s: s["price_vs_market"]["programs"]["huopin"]["counts"].pop(),
     "price_vs_market"),
])
def test_summary_fields(solve_folder: Path, change: object, field: str) -> None:
    summary = json.loads((solve_folder / "summary.json").read_text(encoding="utf-8"))
    change(summary)  # type: ignore[operator]
    (solve_folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    _fails(solve_folder, "summary.json", f"field {field}")


def test_summary_nan(solve_folder: Path) -> None:
    text = (solve_folder / "summary.json").read_text(encoding="utf-8")
    (solve_folder / "summary.json").write_text(text.replace('"bound": 2600.0', '"bound": NaN'),
                                               encoding="utf-8")
    _fails(solve_folder, "field bound")


def test_plan_missing(solve_folder: Path) -> None:
    (solve_folder / "plan.csv").unlink()
    _fails(solve_folder, "plan.csv", "file not found")


def test_plan_wrong_columns(solve_folder: Path) -> None:
    write_csv(solve_folder / "plan.csv", ["sku_id", "program", "price"], [("A", "offsite", "1")])
    _fails(solve_folder, "plan.csv", "line 1", "expected the columns sku_id,offer_id,program")


def test_plan_empty_file(solve_folder: Path) -> None:
    (solve_folder / "plan.csv").write_bytes(b"")
    _fails(solve_folder, "plan.csv", "found none")


def test_plan_not_a_number(solve_folder: Path) -> None:
    write_csv(solve_folder / "plan.csv", PLAN_HEADER,
              [("A", "O", "offsite", "cheap", "1.000", "1.00", "0.006", "0.01", "0.50")])
    _fails(solve_folder, "plan.csv", "cannot read")


def test_plan_empty_value(solve_folder: Path) -> None:
    write_csv(solve_folder / "plan.csv", PLAN_HEADER,
              [("A", "O", "offsite", "1.00", "1.000", "1.00", "0.006", "0.01", "")])
    _fails(solve_folder, "plan.csv", "field margin", "1 empty value")


def test_excluded_ragged_row(solve_folder: Path) -> None:
    with open(solve_folder / "excluded.csv", "a", encoding="utf-8") as fh:
        fh.write("A9,offsite\n")
    _fails(solve_folder, "excluded.csv", "cannot read")
    assert EXCLUDED_HEADER[2] == "reason"


def test_sweep_point_without_an_axis_value(sweep_folder: Path) -> None:
    doc = sweep_doc()
    doc["points"][2]["values"] = {}
    (sweep_folder / "sweep.json").write_text(json.dumps(doc), encoding="utf-8")
    _fails(sweep_folder, "sweep.json", "field points.2.values")


def test_sweep_without_axes(sweep_folder: Path) -> None:
    doc = sweep_doc()
    doc["axes"] = []
    (sweep_folder / "sweep.json").write_text(json.dumps(doc), encoding="utf-8")
    _fails(sweep_folder, "sweep.json", "field axes")


def test_unreadable_breakeven_csv_is_skipped(sweep_folder: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """breakeven.csv is optional: a file in another shape is skipped with a warning."""
    write_csv(sweep_folder / "breakeven.csv", ["a", "b"], [("1", "2")])
    html = write_report(sweep_folder).read_text(encoding="utf-8")
    assert "not understood" in caplog.text
    assert 'id="chart-sweep-persku"' not in html and 'id="chart-sweep-margin"' in html


def test_no_temporary_file_left(solve_folder: Path) -> None:
    path = write_report(solve_folder)
    assert path == solve_folder / "report.html"
    assert sorted(p.name for p in solve_folder.iterdir()) == [
        "excluded.csv", "plan.csv", "report.html", "summary.json"]


def test_old_summary_without_price_histogram(solve_folder: Path) -> None:
    summary = json.loads((solve_folder / "summary.json").read_text(encoding="utf-8"))
    del summary["price_vs_market"]
    (solve_folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    html = write_report(solve_folder).read_text(encoding="utf-8")
    assert "solve again to see it" in html and 'id="chart-price"' not in html


# ------------------------------------------------------------------------------------- the CLI

def test_cli_report_prints_the_path(solve_folder: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(solve_folder), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(solve_folder / "report.html")
    assert (solve_folder / "report.html").stat().st_size > 1000


def test_cli_report_bad_folder_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no summary.json or sweep.json" in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_report_malformed_summary_exits_2(solve_folder: Path) -> None:
    (solve_folder / "summary.json").write_text("[]", encoding="utf-8")
    result = CliRunner().invoke(main, ["report", str(solve_folder)])
    assert result.exit_code == 2 and "summary.json" in result.stderr
    assert not (solve_folder / "report.html").exists()


def test_solve_report_writes_it(generated: tuple[Path, Path]) -> None:
    _, out = generated
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html
