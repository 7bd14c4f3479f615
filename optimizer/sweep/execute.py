"""Where the points run: this process, local worker processes, or a Dask distributed cluster.

Every executor runs the same tasks: (spec, parent) where parent names the task whose multipliers
warm-start this one (a task of the same batch, or one that ran before). The parent is part of the
task, fixed by the grid, so a point's result does not depend on which process ran it or when.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from optimizer.load.errors import InputError
from optimizer.solve.lagrange import Multipliers
from optimizer.sweep.runner import PointOutput, PointSpec, Prepared, run_point

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    spec: PointSpec
    parent: str | None  # key of the task whose multipliers start this one


Done = Callable[[PointOutput], None]


class Executor(Protocol):
    def run(self, tasks: Sequence[Task], done: Done) -> dict[str, PointOutput]:
        """Run a batch (parents before children, or already run); every output by key."""

    def close(self) -> None: ...


def _check(tasks: Sequence[Task], known: dict[str, PointOutput]) -> None:
    keys = {t.spec.key for t in tasks}
    for t in tasks:
        if t.parent is not None and t.parent not in keys and t.parent not in known:
            raise ValueError(f"task {t.spec.key}: unknown parent {t.parent}")


def _warm(parent: PointOutput | None) -> Multipliers | None:
    return None if parent is None else parent[1]


class InProcess:
    """One point after the other, here (workers=1, and the reference the others must equal)."""

    def __init__(self, prep: Prepared):
        self.prep = prep
        self.outputs: dict[str, PointOutput] = {}

    def run(self, tasks: Sequence[Task], done: Done) -> dict[str, PointOutput]:
        _check(tasks, self.outputs)
        pending = list(tasks)
        while pending:
            ready = [t for t in pending if t.parent is None or t.parent in self.outputs]
            for t in ready:
                parent = self.outputs.get(t.parent) if t.parent is not None else None
                out = run_point(self.prep, t.spec, _warm(parent))
                self.outputs[t.spec.key] = out
                done(out)
            pending = [t for t in pending if t.spec.key not in self.outputs]
        return {t.spec.key: self.outputs[t.spec.key] for t in tasks}

    def close(self) -> None:
        pass


_WORKER_PREP: Prepared | None = None


def _init_worker(prep: Prepared) -> None:
    global _WORKER_PREP
    _WORKER_PREP = prep


def _worker_task(spec: PointSpec, warm: Multipliers | None) -> PointOutput:
    assert _WORKER_PREP is not None, "worker not initialised"
    return run_point(_WORKER_PREP, spec, warm, threads=1)


class Processes:
    """Local worker processes (spawned: no fork of a process holding solver or Arrow threads);
    the prepared inputs are sent to each once, a task then carries only its point."""

    def __init__(self, prep: Prepared, workers: int):
        self.pool = cf.ProcessPoolExecutor(max_workers=workers,
                                           mp_context=mp.get_context("spawn"),
                                           initializer=_init_worker, initargs=(prep,))
        self.outputs: dict[str, PointOutput] = {}

    def run(self, tasks: Sequence[Task], done: Done) -> dict[str, PointOutput]:
        _check(tasks, self.outputs)
        waiting = list(tasks)
        running: dict[cf.Future[PointOutput], str] = {}
        try:
            while waiting or running:
                for t in [t for t in waiting if t.parent is None or t.parent in self.outputs]:
                    parent = self.outputs.get(t.parent) if t.parent is not None else None
                    running[self.pool.submit(_worker_task, t.spec, _warm(parent))] = t.spec.key
                    waiting.remove(t)
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in sorted(finished, key=lambda f: running[f]):
                    self.outputs[running.pop(fut)] = out = fut.result()
                    done(out)
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
        return {t.spec.key: self.outputs[t.spec.key] for t in tasks}

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _dask_task(prep: Prepared, spec: PointSpec, parent: Any) -> PointOutput:
    """On a Dask worker: `parent` is the parent's output (Dask passes a finished future's
    value), its multipliers, or None."""
    warm = parent[1] if isinstance(parent, tuple) else parent
    return run_point(prep, spec, warm)


class DaskCluster:
    """The points as Dask tasks on the scheduler at `address`: the prepared inputs scattered to
    every worker once; a child task depends on its parent's future, so Dask orders them.
    Connecting waits Dask's own connect timeout (distributed.comm.timeouts.connect)."""

    def __init__(self, prep: Prepared, address: str):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a dependency of the package
            raise InputError.one("--scheduler", "", "", "dask distributed is not installed "
                                                        "(pip install distributed)") from None
        try:
            self.client = Client(address, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError.one("--scheduler", "", "",
                                 f"cannot reach a Dask scheduler at {address}: {exc}") from None
        self.run_id = uuid.uuid4().hex[:12]
        self.prep = self.client.scatter(prep, broadcast=True, hash=False)
        self.outputs: dict[str, PointOutput] = {}

    def run(self, tasks: Sequence[Task], done: Done) -> dict[str, PointOutput]:
        from distributed import as_completed

        _check(tasks, self.outputs)
        futures: dict[str, Any] = {}
        for t in _parents_first(tasks):
            if t.parent is None:
                parent: Any = None
            elif t.parent in futures:
                parent = futures[t.parent]
            else:
                parent = self.outputs[t.parent][1]
            futures[t.spec.key] = self.client.submit(
                _dask_task, self.prep, t.spec, parent, pure=False,
                key=f"enroll-opt-sweep-{self.run_id}-{t.spec.key}")
        keys = {f.key: k for k, f in futures.items()}
        try:
            for fut in as_completed(list(futures.values()), loop=self.client.loop):
                self.outputs[keys[fut.key]] = out = fut.result()
                done(out)
        except BaseException:
            self.client.cancel(list(futures.values()))
            raise
        return {t.spec.key: self.outputs[t.spec.key] for t in tasks}

    def close(self) -> None:
        self.client.close()


def _parents_first(tasks: Sequence[Task]) -> list[Task]:
    keys = {t.spec.key for t in tasks}
    placed: set[str] = set()
    out: list[Task] = []
    pending = list(tasks)
    while pending:
        ready = [t for t in pending if t.parent is None or t.parent not in keys
                 or t.parent in placed]
        if not ready:
            raise ValueError("the warm-start parents form a cycle")
        for t in ready:
            out.append(t)
            placed.add(t.spec.key)
        pending = [t for t in pending if t.spec.key not in placed]
    return out


@contextmanager
def executor(prep: Prepared, workers: int, scheduler: str | None) -> Iterator[Executor]:
    """The executor a sweep asked for: a Dask cluster, worker processes, or this process."""
    ex: Executor
    if scheduler is not None:
        ex = DaskCluster(prep, scheduler)
    elif workers > 1:
        ex = Processes(prep, workers)
    else:
        ex = InProcess(prep)
    try:
        yield ex
    finally:
        ex.close()
