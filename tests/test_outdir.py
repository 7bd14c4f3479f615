"""optimizer/outdir.py: an output folder holds one run's complete files, whatever happens.

Kills are real: the writer runs in a forked child that dies (os._exit, no cleanup, no finally)
just before its i-th disk step, for every i; the parent then checks what a user would find, and
what the next run makes of it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from optimizer import outdir as od
from optimizer.load import InputError

A = {"plan.csv": b"plan A\n", "excluded.csv": b"excluded A\n", "summary.json": b'{"run": "A"}\n',
     "report.html": b"<p>report of A</p>\n"}
B = {"plan.csv": b"plan B, longer\n", "excluded.csv": b"excluded B\n",
     "summary.json": b'{"run": "B"}\n', "plan.xlsx": b"xlsx of B"}
KILLED = 77


def write(folder: Path, files: dict[str, bytes], status: str = "OPTIMAL") -> od.Run | None:
    with od.output_set(folder, "solve", status=status) as stage:
        for name, data in files.items():
            stage.write(name, data)
    return stage.committed


def visible(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def steps_of(action: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    labels: list[str] = []
    monkeypatch.setattr(od, "_step_hook", labels.append)
    action()
    monkeypatch.setattr(od, "_step_hook", None)
    return labels


def killed_at(step: int, action: Callable[[], object]) -> int:
    """Run `action` in a child killed just before its step-th disk step (counting from 0);
    returns the child's exit code (KILLED, or 0 when it had fewer steps)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            seen = 0

            def hook(label: str) -> None:
                nonlocal seen
                if seen == step:
                    os._exit(KILLED)
                seen += 1

            od._step_hook = hook
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def assert_one_run(folder: Path, *candidates: dict[str, bytes]) -> dict[str, bytes]:
    """The folder, as the next run (or `report`) sees it: exactly one candidate's files, the
    manifest naming them with their sha256, nothing else hidden."""
    run = od.verified_run(folder)  # finishes a commit cut short, checks every file
    files = visible(folder)
    assert files in candidates, files
    assert hidden(folder) == [od.RUN_MANIFEST]
    assert run is not None and set(run.files) == set(files)
    return files


def test_a_write_commits_the_set_and_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    first = write(folder, A)
    assert visible(folder) == A and hidden(folder) == [od.RUN_MANIFEST]
    second = write(folder, B)
    assert visible(folder) == B  # report.html, A's, is gone with A
    assert first is not None and second is not None and first.id != second.id
    doc = json.loads((folder / od.RUN_MANIFEST).read_text(encoding="utf-8"))
    assert doc["run"] == second.id and doc["command"] == "solve" and doc["status"] == "OPTIMAL"
    assert doc["files"]["plan.csv"] == {
        "bytes": len(B["plan.csv"]),
        "sha256": hashlib.sha256(B["plan.csv"]).hexdigest()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing beside it


def test_a_kill_at_every_step_leaves_one_run(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the commit the folder is A's; after it, B's, however many of the moves were done
    when the writer died; the next run finishes the commit before anything else."""
    dry = tmp_path / "dry"
    write(dry, A)
    labels = steps_of(lambda: write(dry, B), monkeypatch)
    assert labels.count("commit") == 1 and sum(x.startswith("move ") for x in labels) == 5
    assert {"remove report.html", "move .enroll-opt-run.json"} <= set(labels)
    found = []
    for i in range(len(labels) + 1):
        folder = tmp_path / f"kill{i}"
        write(folder, A)
        code = killed_at(i, lambda folder=folder: write(folder, B))
        assert code == (KILLED if i < len(labels) else 0)
        pending = [n for n in hidden(folder) if n.startswith(od.COMMIT)]
        run = od.read_run(folder)
        assert run is not None
        vouched = od.run_problems(folder, run) == []
        if not pending:  # no commit under way: the files are one run's, as the manifest says
            assert vouched
        if vouched:  # mid-commit too: the manifest never vouches for a mix
            assert visible(folder) in (A, B) and set(run.files) == set(visible(folder))
        else:  # caught mid-commit: the manifest says so, and the next run finishes it
            assert pending
        found.append("A" if assert_one_run(folder, A, B) == A else "B")
    commit = labels.index("commit")
    assert found == ["A"] * (commit + 1) + ["B"] * (len(labels) - commit), (labels, found)


def test_a_second_kill_while_finishing_a_commit(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The roll-forward can itself be killed at any of its steps, and finished later."""
    dry = tmp_path / "dry"
    write(dry, A)
    labels = steps_of(lambda: write(dry, B), monkeypatch)
    commit = labels.index("commit")
    for i in range(commit + 1, len(labels)):
        probe = tmp_path / f"probe{i}"
        write(probe, A)
        killed_at(i, lambda probe=probe: write(probe, B))
        again = steps_of(lambda probe=probe: od.tidy(probe), monkeypatch)
        assert visible(probe) == B and again
        for j in range(len(again)):
            folder = tmp_path / f"kill{i}-{j}"
            write(folder, A)
            killed_at(i, lambda folder=folder: write(folder, B))
            assert killed_at(j, lambda folder=folder: od.tidy(folder)) == KILLED
            assert assert_one_run(folder, A, B) == B


def test_an_error_while_staging_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    write(folder, A)
    before = (folder / od.RUN_MANIFEST).read_bytes()
    with pytest.raises(RuntimeError), od.output_set(folder, "solve") as stage:
        stage.write("plan.csv", b"half of a plan")
        raise RuntimeError("a bug in the middle of writing")
    assert visible(folder) == A and (folder / od.RUN_MANIFEST).read_bytes() == before
    assert hidden(folder) == [od.RUN_MANIFEST]


def test_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "out"
    write(folder, A)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(od.os, "fsync", full)
    with pytest.raises(od.WriteError) as info:
        write(folder, B)
    text = str(info.value)
    assert text.startswith(f"cannot write {folder / 'plan.csv'}: No space left on device"), text
    assert "keeps its previous files" in text and od.STAGING not in text
    monkeypatch.undo()
    assert assert_one_run(folder, A) == A


def test_leftovers_of_killed_runs_are_removed_by_the_next(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    write(folder, A)
    dead = folder / f"{od.STAGING}20260101T000000Z-dead0000"
    dead.mkdir()
    (dead / "plan.csv").write_bytes(b"half")
    live = folder / f"{od.STAGING}20260101T000000Z-live0000"
    live.mkdir()
    (folder / ".report.html.x1y2.tmp").write_bytes(b"an old version's temp report")
    old = tmp_path / ".out.ab12cd_3"  # an old version's temp folder beside the output folder
    old.mkdir()
    (old / "plan.csv").write_bytes(b"30 MB at 100k SKUs")
    mine = tmp_path / ".out.notes123"  # same shape, but holding the user's own file: kept
    mine.mkdir()
    (mine / "notes.txt").write_bytes(b"mine")
    (folder / "notes.txt").write_bytes(b"mine too")
    fd = os.open(live, os.O_RDONLY)  # a run still writing holds its staging folder's lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        write(folder, B)
        assert live.is_dir()
    finally:
        os.close(fd)
    assert not dead.exists() and not old.exists() and mine.is_dir()
    assert not (folder / ".report.html.x1y2.tmp").exists()
    assert visible(folder) == {**B, "notes.txt": b"mine too"}
    od.tidy(folder)  # the lock is gone: the next run removes it
    assert hidden(folder) == [od.RUN_MANIFEST]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_new_folders_and_files_have_normal_modes(tmp_path: Path, umask_022: None) -> None:
    folder = tmp_path / "new" / "out"
    write(folder, A)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o755
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


def test_a_folder_that_is_a_mount_point(tmp_path: Path) -> None:
    """A container volume: the folder is on another file system than its parent. Nothing is
    staged outside it, so no rename crosses file systems."""
    volume = tmp_path / "volume"
    volume.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(volume)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        assert volume.stat().st_dev != tmp_path.stat().st_dev
        write(volume, A)
        write(volume, B)
        assert assert_one_run(volume, B) == B
        assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"]
    finally:
        subprocess.run(["umount", str(volume)], check=False)


def test_the_staging_folder_is_inside_the_output_folder(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes mount points work without root: every path the writer makes is inside."""
    folder = tmp_path / "out"
    made: list[Path] = []
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        made.append(self.absolute())
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    write(folder, A)
    write(folder, B)
    assert any(p.name.startswith(od.STAGING) for p in made)
    assert all(p == folder or p.parent == folder for p in made), made


def test_strict_json_writes_null_for_what_is_not_a_number() -> None:
    text = od.strict_json({"objective": math.nan, "bound": [math.inf, 1.5],
                           "gap": {"x": -math.inf}, "name": "名", "n": 3})

    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in strict JSON")

    assert json.loads(text, parse_constant=refuse) == {
        "objective": None, "bound": [None, 1.5], "gap": {"x": None}, "name": "名", "n": 3}
    assert text.endswith("}\n") and "名" in text


def test_a_mixed_folder_is_refused(tmp_path: Path) -> None:
    """What an older version's kill between two renames left: one file from another run."""
    folder = tmp_path / "out"
    write(folder, A)
    (folder / "plan.csv").write_bytes(B["plan.csv"])
    (folder / "sweep.json").write_bytes(b"{}")
    with pytest.raises(InputError) as info:
        od.verified_run(folder)
    text = info.value.render()
    assert f"{folder / 'plan.csv'}: not the file run" in text
    assert f"{folder / 'sweep.json'}: not written by run" in text
    assert "excluded.csv" not in text


def test_report_extends_its_run_and_refuses_another(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    run = write(folder, B)
    assert run is not None
    with od.output_set(folder, "report", owned=frozenset(), extend=run) as stage:
        stage.write("report.html", b"<p>B</p>")
    after = od.verified_run(folder)
    assert after is not None and after.id == run.id and "report.html" in after.files
    write(folder, A)  # another run commits between reading and writing the report
    with pytest.raises(InputError, match="another run wrote the folder meanwhile"), \
            od.output_set(folder, "report", owned=frozenset(), extend=run) as stage:
        stage.write("report.html", b"<p>B</p>")
    assert assert_one_run(folder, A) == A
