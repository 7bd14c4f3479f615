"""Input problems: every one names the file, the line or row, and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with the user's input."""

    file: str
    where: str  # "line 7", "row 12", or "" when the whole file is at fault
    field: str  # column or dotted key; "" when no single field is at fault
    message: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.where:
            parts.append(self.where)
        if self.field:
            parts.append(f"field {self.field}")
        return ", ".join(parts) + f": {self.message}"


class InputError(Exception):
    """Invalid input (exit code 2). Carries every problem found, not just the first."""

    MAX_SHOWN = 50

    def __init__(self, problems: list[InputProblem]):
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems = problems
        super().__init__(self.render())

    @classmethod
    def one(cls, file: str | Path, where: str, field: str, message: str) -> InputError:
        return cls([InputProblem(str(file), where, field, message)])

    def render(self) -> str:
        shown = [str(p) for p in self.problems[: self.MAX_SHOWN]]
        more = len(self.problems) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more problem(s)")
        return "\n".join(shown)
