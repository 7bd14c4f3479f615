"""Where the points run: this process, local worker processes, or a Dask distributed cluster.

Every executor runs the same tasks: (spec, parent) where parent names the task whose multipliers
warm-start this one (a task of the same batch, or one that ran before). The parent is part of the
task, fixed by the grid, so a point's result does not depend on which process ran it or when.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import logging
import multiprocessing as mp
import os
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from optimizer.load.errors import InputError
from optimizer.solve.warm import WarmStart
from optimizer.sweep.runner import PointOutput, PointSpec, Prepared, run_point

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    spec: PointSpec
    parent: str | None  # key of the task whose warm start (multipliers, columns) starts this one


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


def _warm(parent: PointOutput | None) -> WarmStart | None:
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
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCHDOG_SECONDS = 1.0  # how often a worker checks that its parent still lives


def cap_workers(requested: int | None, points: int) -> int:
    """Local processes for `points` points: as asked (default: the CPUs), never more than the
    points nor the CPUs (32 processes on 2 cores ran 64 points 8x slower than 2)."""
    cpus = os.cpu_count() or 1
    wanted = requested if requested is not None else cpus
    n = max(1, min(wanted, cpus, points))
    if requested is not None and n < requested:
        log.info("--workers %d: using %d (%d point(s), %d CPU(s))", requested, n, points, cpus)
    return n


def _die_with_parent(parent: int) -> None:
    """End this worker when the sweep that started it ends, however it ends (kill -9 too):
    Linux kills it with its parent (PR_SET_PDEATHSIG); everywhere, a thread watches getppid().
    Otherwise workers of ~300 MB live on, holding the sweep's stdout open (`sweep | cat` hangs)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the watchdog
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_worker(prep: Prepared, parent: int) -> None:
    global _WORKER_PREP
    _die_with_parent(parent)
    _WORKER_PREP = prep


def _worker_task(spec: PointSpec, warm: WarmStart | None) -> PointOutput:
    assert _WORKER_PREP is not None, "worker not initialised"
    return run_point(_WORKER_PREP, spec, warm, threads=1)


class Processes:
    """Local worker processes (spawned: no fork of a process holding solver or Arrow threads);
    the prepared inputs are sent to each once, a task then carries only its point."""

    def __init__(self, prep: Prepared, workers: int):
        self.pool = cf.ProcessPoolExecutor(max_workers=workers,
                                           mp_context=mp.get_context("spawn"),
                                           initializer=_init_worker,
                                           initargs=(prep, os.getpid()))
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
    The address is probed first (probe_scheduler), then Dask connects within CONNECT_SECONDS;
    anything that goes wrong on the way is an input error naming the address."""

    def __init__(self, prep: Prepared, address: str):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a dependency of the package
            raise InputError.one("--scheduler", "", "", "dask distributed is not installed "
                                                        "(pip install distributed)") from None
        probe_scheduler(address)
        try:
            self.client = Client(address, set_as_default=False, timeout=CONNECT_SECONDS)
        except Exception as exc:  # MemoryError too: a peer that is not Dask sends any length
            raise InputError.one("--scheduler", "", "",
                                 f"cannot reach a Dask scheduler at {address}: "
                                 f"{type(exc).__name__}: {exc}") from None
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


CONNECT_SECONDS = 10  # to connect, and for a scheduler's first bytes
_MAX_HANDSHAKE = 64 * 1024 * 1024  # a Dask handshake is a few kB; more is another protocol


def probe_scheduler(address: str, seconds: float | None = None) -> None:
    """Refuse, within `seconds`, a TCP address where no Dask scheduler answers.

    A Dask peer writes its handshake as soon as a connection opens: 8 bytes of length (little
    endian), then the message. An HTTP server sends nothing until asked, and what another
    service sends does not start with a plausible length; Dask itself would read its reply as
    a frame length (MemoryError: 3 EiB) or wait for minutes. Other schemes (tls, inproc, ucx)
    are left to Dask."""
    from distributed.comm import parse_address, parse_host_port
    from distributed.comm.registry import backends

    seconds = CONNECT_SECONDS if seconds is None else seconds
    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"{scheme}:// is not a Dask protocol "
                             f"({', '.join(s + '://' for s in sorted(backends))})")
        if scheme != "tcp":
            return
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise InputError.one("--scheduler", "", "", f"not a scheduler address {address!r}: "
                             f"{exc} (like tcp://10.0.0.5:8786)") from None
    what = f"no Dask scheduler at {address}"
    try:
        with socket.create_connection((host, int(port)), timeout=seconds) as sock:
            head = b""
            deadline = time.monotonic() + seconds
            while len(head) < 8:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    raise InputError.one("--scheduler", "", "", f"{what}: the connection "
                                         "was closed without a Dask handshake")
                head += chunk
    except TimeoutError:
        raise InputError.one("--scheduler", "", "", f"{what}: nothing came back within "
                             f"{seconds:g} s (another service listens there, or a firewall "
                             "drops the packets)") from None
    except OSError as exc:
        raise InputError.one("--scheduler", "", "", f"cannot reach a Dask scheduler at "
                             f"{address}: {exc.strerror or exc}") from None
    (length,) = struct.unpack("<Q", head)
    if not 0 < length <= _MAX_HANDSHAKE:
        raise InputError.one("--scheduler", "", "", f"{what}: the service there answered "
                             f"{head!r}, which is not a Dask handshake")


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
