"""Output folders written as one set: a run's files all appear, or none of them do.

This module is the commit and recovery protocol; which run a folder holds (the manifest) is
optimizer/manifest.py's, its public names importable from here as before.

The rule (README, "Output folders"): a folder always holds exactly one run's complete files, the
new run's or, when it failed or was killed, the previous run's, and its manifest says which; a
failed run never silently destroys a good plan; no temporary leftover survives the next run.

How, in the order things happen:

1. Every file of the set is written into OUTDIR/.enroll-opt-staging-<run>/ (inside the folder,
   so on its file system: a folder that is a mount point works), then flushed to disk and
   hashed. A run that fails here, or is killed, leaves the folder as it was; the next run
   removes the staging folder (a live run's is locked, and left alone).
2. The run's manifest (`.enroll-opt-run.json`: run id, command, time, status, every file's
   size and sha256; optimizer/manifest.py makes, reads and checks it) and a journal (the files
   to move in, the stale ones to remove) are written into the staging folder too.
3. One rename of the staging folder to .enroll-opt-commit-<run> is the commit: from then on the
   folder is the new run's. The stale files are removed, the files moved into place one by
   one, the manifest last, and the commit folder removed. A kill in between leaves the commit
   folder, with its journal: the next run, and `report`, roll it forward before anything else.
   Until the new manifest is in place the old one no longer matches the files (sizes, sha256),
   so a folder caught mid-commit is never taken for the old run either.

Commits into one folder are serialised by a lock on the folder (flock), so two runs never
interleave their moves. Every step goes through `_step`, which tests use to kill a writer at
each one in turn.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from optimizer.load.errors import InputError
from optimizer.manifest import OUTPUT_FILES as OUTPUT_FILES
from optimizer.manifest import PLAN_STATUSES as PLAN_STATUSES
from optimizer.manifest import RUN_MANIFEST as RUN_MANIFEST
from optimizer.manifest import Run as Run
from optimizer.manifest import file_digest, manifest_doc
from optimizer.manifest import new_run_id as new_run_id
from optimizer.manifest import read_run as read_run
from optimizer.manifest import run_problems as run_problems
from optimizer.manifest import strict_json as strict_json

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux: no locks, the rest holds
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

STAGING, COMMIT = ".enroll-opt-staging-", ".enroll-opt-commit-"
JOURNAL = ".journal.json"  # inside a staging or commit folder; never moved out
# What earlier versions left when killed: a temp folder beside the output folder (mkdtemp,
# 8 random characters), a temp report, generate's temp files.
_LEGACY_SIBLING = r"\.{name}\.[a-z0-9_]{{8}}"
_LEGACY_INSIDE = re.compile(r"\.report\.html\..+\.tmp|\.(catalogue\.(csv|parquet)|scenario\.yaml)"
                            r"\.tmp")

# Called with a label before every step that changes the disk (tests kill the writer there).
_step_hook: Callable[[str], None] | None = None


def _step(label: str) -> None:
    if _step_hook is not None:
        _step_hook(label)


class WriteError(OSError):
    """Writing an output file failed (a full disk, a lost permission): the message names the
    file as the user knows it, and says the folder was left as it was."""

    def __init__(self, path: Path | str, exc: OSError, note: str = "") -> None:
        super().__init__(exc.errno, exc.strerror or str(exc), str(path))
        self.note = note

    def __str__(self) -> str:
        text = f"cannot write {self.filename}: {self.strerror}"
        return f"{text}; {self.note}" if self.note else text



# ------------------------------------------------------------------------------ locks, tidying

@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder while a commit or a recovery runs."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _in_use(folder: Path) -> bool:
    """Whether a live process holds the lock of this staging folder."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _roll_forward(outdir: Path, commit: Path) -> str:
    """Finish a commit: remove the stale files, move the staged ones in (the manifest last),
    remove the commit folder; returns the run's id. Each step can be repeated: a second kill is
    recovered too."""
    journal = json.loads((commit / JOURNAL).read_text(encoding="utf-8"))
    for name in journal["remove"]:
        if (outdir / name).exists():
            _step(f"remove {name}")
            (outdir / name).unlink(missing_ok=True)
    for name in journal["files"]:
        if (commit / name).exists():
            _step(f"move {name}")
            os.replace(commit / name, outdir / name)
    _fsync_dir(outdir)
    _step("clear")
    shutil.rmtree(commit)
    return str(journal["run"])


def _finish_pending(outdir: Path) -> None:
    """Roll forward a commit a killed run left cut short (called under the folder's lock)."""
    for entry in sorted(outdir.iterdir()):
        if not (entry.name.startswith(COMMIT) and entry.is_dir()):
            continue
        if (entry / JOURNAL).is_file():
            run = _roll_forward(outdir, entry)
            log.warning("%s: finished writing the files of run %s, cut short by a kill or a "
                        "crash", outdir, run)
        else:  # cannot happen (the journal is there before the rename): drop it
            shutil.rmtree(entry, ignore_errors=True)


def tidy(outdir: Path) -> list[str]:
    """Roll forward an interrupted commit, remove what killed runs left (staging folders not
    in use, earlier versions' temp files and sibling temp folders). Returns what was done, for
    the log. Needs a folder that exists."""
    outdir = Path(outdir)
    done: list[str] = []
    with _locked(outdir):
        _finish_pending(outdir)
        for entry in sorted(outdir.iterdir()):
            if entry.name.startswith(STAGING) and entry.is_dir() and not _in_use(entry):
                shutil.rmtree(entry, ignore_errors=True)
                done.append(f"removed {entry.name}, left by a run that did not finish")
            elif _LEGACY_INSIDE.fullmatch(entry.name) and entry.is_file():
                entry.unlink(missing_ok=True)
                done.append(f"removed {entry.name}, left by an earlier version")
    sibling = re.compile(_LEGACY_SIBLING.format(name=re.escape(outdir.name)))
    with contextlib.suppress(OSError):
        for entry in outdir.parent.iterdir():
            if (sibling.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink()
                    and {p.name for p in entry.iterdir()} <= OUTPUT_FILES):
                shutil.rmtree(entry, ignore_errors=True)
                done.append(f"removed {entry}, left by an earlier version")
    for line in done:
        log.info("%s: %s", outdir, line)
    return done


def check_outdir(outdir: Path) -> None:
    """InputError (nothing written) when the output folder cannot be made or written: checked
    before any solving, not found out after it."""
    path = Path(outdir).absolute()
    here = path
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        raise InputError.one("-o", "", "", f"{here} is a file, not a folder: cannot write {path}")
    if not os.access(here, os.W_OK | os.X_OK):
        raise InputError.one("-o", "", "", f"cannot write {path}: no permission in {here}")


# ------------------------------------------------------------------------------------ writing

class Staging:
    """The set being written: files go into the staging folder; each is flushed to disk and
    hashed on a background thread while the next one is made."""

    def __init__(self, outdir: Path, run: Run) -> None:
        self.outdir = outdir
        self.run = run
        self.key = new_run_id()  # its own: a report adds to a run, and two may run at once
        self.folder = outdir / f"{STAGING}{self.key}"
        self.sealed: dict[str, tuple[int, str]] = {}
        self.committed: Run | None = None  # the run the folder holds once committed
        self._pending: list[Future[None]] = []
        self._disk = ThreadPoolExecutor(max_workers=1)
        _step("stage")
        self.folder.mkdir()
        self._lock = os.open(self.folder, os.O_RDONLY)
        if fcntl is not None:
            fcntl.flock(self._lock, fcntl.LOCK_EX)

    def path(self, name: str) -> Path:
        """Where to write `name` (for writers that take a path); sealed at commit."""
        if not name or "/" in name or name.startswith(".") or name in (".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        return self.folder / name

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        """A new file of the set, opened for writing bytes."""
        path = self.path(name)
        _step(f"write {name}")
        try:
            fh = path.open("wb")
        except OSError as exc:
            raise WriteError(self.outdir / name, exc) from exc
        try:
            yield fh
        except OSError as exc:  # a full disk while writing: named as the user knows the file
            fh.close()
            raise WriteError(self.outdir / name, exc) from exc
        except BaseException:
            fh.close()
            raise
        self._pending.append(self._disk.submit(self._seal, name, fh))

    def write(self, name: str, data: bytes) -> None:
        with self.open(name) as fh:
            fh.write(data)

    def _seal(self, name: str, fh: BinaryIO | None) -> None:
        path = self.folder / name
        try:
            if fh is None:
                fh = path.open("rb+")
            try:
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fh.close()
            self.sealed[name] = file_digest(path)
        except OSError as exc:
            raise WriteError(self.outdir / name, exc) from exc

    def finish(self) -> None:
        """Every file flushed and hashed, those written by path too."""
        try:
            for done in self._pending:
                done.result()
        finally:
            self._disk.shutdown()
        for entry in sorted(self.folder.iterdir()):
            if entry.name not in self.sealed and entry.name != JOURNAL:
                self._seal(entry.name, None)

    def discard(self) -> None:
        self._disk.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.close()

    def close(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


@contextlib.contextmanager
def output_set(outdir: Path, command: str, *, status: str | None = None,
               owned: frozenset[str] = OUTPUT_FILES, manifest: str | None = RUN_MANIFEST,
               meta: Mapping[str, Any] | None = None, extend: Run | None = None,
               ) -> Iterator[Staging]:
    """Write a set of files into `outdir` as one commit (the module's docstring says how).

    Yields a Staging; files written through it appear in `outdir` together when the block ends,
    the owned files not among them are removed, and the manifest names the new run. An error in
    the block (or a kill) leaves the folder as it was; an OSError comes out as WriteError naming
    the file. `extend`: add the files to that run (the report), which must still be the
    folder's (InputError if another run committed meanwhile); `manifest` None: no manifest
    (generate's folder, which is the user's)."""
    outdir = Path(outdir).absolute()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        tidy(outdir)
        run = extend if extend is not None else Run(
            new_run_id(), command, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), status, {})
        staging = Staging(outdir, run)
    except OSError as exc:
        raise _as_write_error(exc, outdir, None, "nothing was written") from exc
    try:
        yield staging
        staging.finish()
        _commit(outdir, staging, owned, manifest, meta or {}, extend)
    except BaseException as exc:
        if staging.folder.exists():  # not committed: the folder is as it was
            staging.discard()
            note = "the folder keeps its previous files"
        else:
            note = "the commit was cut short: the next run in this folder finishes it"
        if isinstance(exc, OSError):
            raise _as_write_error(exc, outdir, staging.folder, note) from exc
        raise
    finally:
        staging.close()


def _as_write_error(exc: OSError, outdir: Path, staging: Path | None, note: str) -> WriteError:
    """The error with the file named as the user knows it (not its staging path)."""
    if isinstance(exc, WriteError):
        exc.note = exc.note or note
        return exc
    name = exc.filename
    path: Path | str = outdir
    if name is not None:
        path = Path(os.fsdecode(name))
        if staging is not None and path.parent == staging:
            path = outdir / path.name
    return WriteError(path, exc, note)


def _commit(outdir: Path, staging: Staging, owned: frozenset[str], manifest: str | None,
            meta: Mapping[str, Any], extend: Run | None) -> None:
    files = sorted(staging.sealed)
    remove = sorted(owned - set(files))
    with _locked(outdir):
        _finish_pending(outdir)
        run = staging.run
        if manifest is not None and extend is not None:
            now = read_run(outdir, manifest)
            if now is None or now.id != extend.id:
                raise InputError.one(outdir, "", "", f"another run wrote the folder meanwhile "
                                     f"(was {extend.describe()}): nothing added, run again")
        if manifest is not None:
            entries = {**(extend.files if extend is not None else {}), **staging.sealed}
            _step("write manifest")
            with (staging.folder / manifest).open("wb") as fh:
                fh.write(manifest_doc(Run(run.id, run.command, run.written, run.status,
                                           entries), meta))
                fh.flush()
                os.fsync(fh.fileno())
            files.append(manifest)
        _step("write journal")
        with (staging.folder / JOURNAL).open("w", encoding="utf-8") as fh:
            json.dump({"run": run.id, "files": files, "remove": remove}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(staging.folder)
        commit = outdir / f"{COMMIT}{staging.key}"
        _step("commit")
        os.rename(staging.folder, commit)
        _fsync_dir(outdir)
        _roll_forward(outdir, commit)
        staging.committed = read_run(outdir, manifest) if manifest is not None else None


def verified_run(outdir: Path, skip: frozenset[str] = frozenset()) -> Run | None:
    """The folder's run, its files checked against the manifest (an interrupted commit rolled
    forward first); None for a folder without a manifest. InputError naming every file that
    does not belong: the folder mixes runs."""
    outdir = Path(outdir)
    tidy(outdir)
    run = read_run(outdir)
    if run is None:
        return None
    problems = run_problems(outdir, run, skip=skip)
    if problems:  # each file named on its own line
        raise InputError([p for name, what in problems for p in InputError.one(
            outdir / name, "", "", f"{what}: the files are not one run's (a mix of runs, or "
            "edited since); run solve or sweep again").problems])
    return run
