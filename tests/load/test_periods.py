"""`periods:` (SPEC 6.3): validated like every field; one month is exactly no `periods`; several
months are refused by solve and sweep (exit 2, nothing written) until the joint solver exists
(issue 16); audit checks them (tests/audit/test_audit_months.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optimizer.cli import EXIT_INPUT, main
from optimizer.load.errors import InputError
from optimizer.prepare import load_inputs
from optimizer.schema import scenario_schema
from tests.helpers import sku, write_case

ROWS = [sku(), sku(offer_id="O1"), sku(sku_id="S3")]


def _case(tmp_path: Path, periods: object = None, **overrides: object) -> Path:
    if periods is not None:
        overrides["periods"] = periods
    return write_case(tmp_path, ROWS, **overrides)


def _problems(scenario: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_inputs(scenario)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(("periods", "field", "words"), [
    (True, "field periods", "boolean"),
    (0, "field periods", "at least 1"),
    (37, "field periods", "at most 36"),
    (2.5, "field periods", "integer"),
    ("three", "field periods", "integer"),
    ([], "field periods", "at least 1 item"),
    ([{"name": f"m{i}"} for i in range(37)], "field periods", "at most 36 items"),
    ([{"name": "a", "budget": 3}], "field periods.0.budget", "unknown key"),
    ([{"programs": {}}], "field periods.0.name", "required"),
    ([{"name": ""}], "field periods.0.name", "at least 1 character"),
    ([{"name": "a"}, {"name": "a"}], "field periods", "two months are named 'a'"),
    ([{"name": 1}, {"name": "1"}], "field periods", "two months are named '1'"),
    ([{"name": "a"}, {"name": "b", "constraints": {"gmv_min": -1}}],
     "field periods.1.constraints.gmv_min", "at least 0"),
    ([{"name": "a"}, {"name": "b", "constraints": {"discount_budget": 0.001}}],
     "field periods.1.constraints.discount_budget", "more than 2 decimals"),
    ([{"name": "a"}, {"name": "b", "programs": {"nosuch": {}}}],
     "field periods.1.programs.nosuch", "unknown program"),
    ([{"name": "a"}, {"name": "b", "programs": {"yanxuan": {"horizon_days": "long"}}}],
     "field periods.1.programs.yanxuan.horizon_days", ""),
    ([{"name": "a"}, {"name": "b", "constraints": {"max_skus": {"nosuch": 1}}}],
     "field periods.1.constraints.max_skus.nosuch", "not a program in scope"),
])
def test_bad_periods_name_file_line_and_field(tmp_path: Path, periods: object, field: str,
                                              words: str) -> None:
    sc = _case(tmp_path, periods)
    problems = _problems(sc)
    assert len(problems) == 1, problems
    text = problems[0]
    assert text.startswith(f"{sc}, line "), text
    assert f"{field}:" in text, text
    assert words in text, text


def test_a_month_closing_a_program_is_checked_against_the_rulebook_programs(
        tmp_path: Path) -> None:
    """Without a scenario `programs:` block a month's override merges over every rulebook
    program: closing one is valid, so the only problem left is the refusal."""
    sc = _case(tmp_path, [{"name": "a"}, {"name": "b", "programs": {"yanxuan": {"enabled": False},
                                                                   "offsite": {"fees": {
                                                                       "tech_service": 0}}}}])
    problems = _problems(sc)
    assert problems == [f"{sc}, line {_line(sc, 'periods:')}, field periods: several months "
                        "(periods: 2) are not solved yet; see issue 16"]


def _line(path: Path, start: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, t in enumerate(lines, start=1) if t.startswith(start))


def _solve(sc: Path, out: Path) -> dict[str, bytes]:
    """The files solve writes; wall-clock figures blanked (the trace's times, `seconds`,
    `phases`, the solver's *_seconds and *_wall), everything else byte for byte."""
    result = CliRunner().invoke(main, ["solve", str(sc), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    # the run marker (.enroll-opt-run.json) holds the time and the scenario file's hash
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if not p.name.startswith(".")}
    summary = json.loads(files["summary.json"])
    summary["seconds"] = summary["phases"] = None
    summary["solver"] = {k: v for k, v in summary["solver"].items()
                         if not k.endswith(("_seconds", "_wall"))}
    for point in summary["trace"]:
        point["t"] = None
    files["summary.json"] = json.dumps(summary).encode()
    return files


@pytest.mark.parametrize("periods", [1, [{"name": "2024-03"}], [{"name": 7}]])
def test_one_month_is_exactly_no_periods(tmp_path: Path, periods: object) -> None:
    constraints = {"max_skus": {"offsite": 1}, "discount_budget": 50}
    plain = _solve(_case(tmp_path / "plain", constraints=constraints), tmp_path / "out-plain")
    one = _solve(_case(tmp_path / "one", periods, constraints=constraints), tmp_path / "out-one")
    assert set(one) == set(plain)
    assert "plan.csv" in one
    for name in plain:
        assert one[name] == plain[name], name


@pytest.mark.parametrize("periods", [2, 36, [{"name": "2024-03"}, {"name": "2024-04"}]])
@pytest.mark.parametrize("command", ["solve", "sweep"])  # audit checks them (SPEC 6.3)
def test_several_months_are_refused_before_anything_is_written(
        tmp_path: Path, periods: object, command: str) -> None:
    sc = _case(tmp_path / "case", periods)
    plan = tmp_path / "plan.csv"
    plan.write_text("sku_id,program,price\nS1,yanxuan,10.00\n", encoding="utf-8")
    out = tmp_path / "out"
    args = {"solve": ["solve", str(sc)],
            "sweep": ["sweep", str(sc), "--set", "constraints.discount_budget=10:20:2"],
            "audit": ["audit", str(sc), str(plan)]}[command]
    result = CliRunner().invoke(main, [*args, "-o", str(out), "-q"])
    assert result.exit_code == EXIT_INPUT, result.output
    months = len(periods) if isinstance(periods, list) else periods
    assert (f"field periods: several months (periods: {months}) are not solved yet; "
            "see issue 16") in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert sorted(p.name for p in (tmp_path / "case").iterdir()) == ["catalogue.csv",
                                                                     "scenario.yaml"]


def test_one_month_with_its_own_overrides_is_refused(tmp_path: Path) -> None:
    """Applied by solve but not by the auditor's reading, they would make the two disagree."""
    sc = _case(tmp_path, [{"name": "a", "constraints": {"discount_budget": 10}}])
    problems = _problems(sc)
    assert len(problems) == 1
    assert problems[0].startswith(f"{sc}, line {_line(sc, '- name: a') }, field periods.0: ")
    assert "write them in the scenario's programs and constraints" in problems[0]


def test_schema_describes_periods() -> None:
    schema = scenario_schema()
    prop = schema["properties"]["periods"]
    text = json.dumps(prop)
    assert "SPEC 6.3" in prop["description"]
    assert '"maximum": 36' in text and '"minimum": 1' in text
    period = schema["$defs"]["Period"]
    assert set(period["properties"]) == {"name", "programs", "constraints"}
    assert all(p.get("description") for p in period["properties"].values())
    assert period["additionalProperties"] is False
    assert period["required"] == ["name"]


def test_periods_loads_as_given(tmp_path: Path) -> None:
    sc = _case(tmp_path, [{"name": "2024-03"}, {"name": 2024, "constraints": {"gmv_min": None}}])
    raw = yaml.safe_load(sc.read_text(encoding="utf-8"))
    assert raw["periods"][1]["name"] == 2024
    from optimizer.load import load_scenario
    scenario, _ = load_scenario(sc)
    assert scenario.months == 2
    assert isinstance(scenario.periods, list)
    assert [m.name for m in scenario.periods] == ["2024-03", "2024"]
    given = scenario.periods[1].constraints
    assert given is not None and given.model_fields_set == {"gmv_min"}


def test_the_two_months_case_is_valid_input_refused_only_for_its_months(tmp_path: Path) -> None:
    """tests/data/two-months (the constructed case of issue 16) passes every check but the
    refusal: it is ready for the joint solver."""
    sc = Path(__file__).resolve().parents[1] / "data" / "two-months" / "scenario.yaml"
    assert _problems(sc) == [f"{sc}, line {_line(sc, 'periods:')}, field periods: several "
                             "months (periods: 2) are not solved yet; see issue 16"]
