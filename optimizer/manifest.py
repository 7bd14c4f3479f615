"""A run's bookkeeping: the manifest that says which run an output folder's files are.

The manifest (`.enroll-opt-run.json`: run id, command, time, status, every file's size and
sha256) is written last into a folder by optimizer/outdir.py's commit; here it is made, read, and
checked against the files (run_problems: what a folder mixing two runs shows). Also the JSON
layout every file of a run uses (strict_json).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.load.errors import InputError
from optimizer.load.files import not_regular

RUN_MANIFEST = ".enroll-opt-run.json"
FORMAT = 1
# Every file solve, sweep and report write. A set replaces all of them: one not in the new set
# is an earlier run's (plan.xlsx without --xlsx, report.html before `report`, a sweep's files
# under a solve) and is removed in the same commit.
OUTPUT_FILES = frozenset({"plan.csv", "excluded.csv", "summary.json", "plan.xlsx",
                          "report.html", "sweep.csv", "sweep.json", "breakeven.csv",
                          "audit.csv", "audit.json"})
PLAN_STATUSES = frozenset({"OPTIMAL", "FEASIBLE"})


def strict_json(data: Any) -> str:
    """JSON every parser reads: a number that is not finite (NaN, ±inf) is written null, never
    as the bare NaN/Infinity Python's json module writes by default. Indented, not ASCII-only,
    with a final newline (the layout summary.json and sweep.json have always had)."""
    return json.dumps(_finite(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data

# ------------------------------------------------------------------------- the run's manifest

@dataclass(frozen=True)
class Run:
    """Which run a folder's files are: what its manifest says."""

    id: str
    command: str
    written: str  # UTC, ISO 8601
    status: str | None
    files: dict[str, tuple[int, str]]  # name -> (bytes, sha256)

    def describe(self) -> str:
        status = f", {self.status}" if self.status else ""
        return f"run {self.id} ({self.command}, {self.written}{status})"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)


def read_run(outdir: Path, manifest: str = RUN_MANIFEST) -> Run | None:
    """The folder's manifest, or None when it has none (a folder from before manifests, or
    made by hand). InputError when it is there but unreadable."""
    path = Path(outdir) / manifest
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Run(str(doc["run"]), str(doc["command"]), str(doc["written"]),
                   None if doc.get("status") is None else str(doc["status"]),
                   {str(k): (int(v["bytes"]), str(v["sha256"]))
                    for k, v in doc["files"].items()})
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError.one(path, "", "", f"not a readable run manifest ({exc}): the folder "
                             "cannot be told to be one run's files; run again") from None


def manifest_doc(run: Run, meta: Mapping[str, Any]) -> bytes:
    doc = {"format": FORMAT, "run": run.id, "command": run.command, "written": run.written,
           "status": run.status, **meta,
           "files": {k: {"bytes": n, "sha256": h} for k, (n, h) in sorted(run.files.items())}}
    return strict_json(doc).encode("utf-8")


def file_digest(path: Path) -> tuple[int, str]:
    with path.open("rb") as fh:
        h = hashlib.file_digest(fh, "sha256")
        return fh.tell(), h.hexdigest()


def run_problems(outdir: Path, run: Run, owned: frozenset[str] = OUTPUT_FILES,
                 skip: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(file, what is wrong) for every file that is not the one `run` wrote, and every owned
    file the run did not write: what a folder mixing two runs shows. `skip`: names not checked
    (the report about to be rewritten)."""
    problems = []
    for name, (size, sha) in sorted(run.files.items()):
        if name in skip:
            continue
        path = Path(outdir) / name
        try:
            mode = path.stat().st_mode
        except OSError:
            problems.append((name, f"missing: {run.describe()} wrote it"))
            continue
        if not stat.S_ISREG(mode):  # never opened: a FIFO would block, a device never end
            problems.append((name, f"{not_regular(mode)}, not the file {run.describe()} wrote"))
        elif path.stat().st_size != size or file_digest(path) != (size, sha):
            problems.append((name, f"not the file {run.describe()} wrote (its size or sha256 "
                                   "differs)"))
    for name in sorted(owned - set(run.files) - skip):
        if (Path(outdir) / name).exists():
            problems.append((name, f"not written by {run.describe()}"))
    return problems
