r"""One executor interface, two backends: local processes and a Dask cluster.

Theorem checks, their shards and figures are independent units of work
("tasks"). Each task is a JSON-able mapping that *is* its identity: its config
hash (:func:`experiments.store.config_hash`) names it, and any randomness it
needs derives from that identity alone,

.. math::

    \mathrm{seed}(\text{task}) = \mathrm{SeedSequence}\big(\mathrm{int}(\mathrm{sha256}
    (\mathrm{canonical\_json}(\text{task})))\big).\mathrm{generate\_state}(1, \mathrm{uint64})[0],

never from the worker that runs it or the order in which tasks finish. So the
results are identical, byte for byte, whichever backend and however many
workers run them. Every backend returns results in task order.

Backends
--------
:class:`LocalExecutor`
    ``workers=1`` runs every task in this process (the default, no extra
    dependency); ``workers=N > 1`` uses a :class:`concurrent.futures.ProcessPoolExecutor`
    whose workers are *spawned* (fresh interpreters: no state inherited from
    the parent, the same on every platform).
:class:`DaskExecutor`
    A :class:`distributed.Client` on a scheduler address, or ``"local"`` for a
    :class:`distributed.LocalCluster` of worker processes on 127.0.0.1 with the
    dashboard disabled (nothing listens on a non-loopback address). Needs the
    ``dask`` extra: ``pip install 'boundlab[dask]'``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from .store import config_hash

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "make_executor",
    "task_key",
    "task_seed",
]

R = TypeVar("R")

DASK_EXTRA_HINT = ("the Dask backend needs dask.distributed: pip install 'boundlab[dask]' "
                   "(or pip install 'dask[distributed]')")


def task_key(task: Mapping[str, Any]) -> str:
    """The identity of a task: the hex SHA-256 of its canonical JSON (its config hash)."""
    return config_hash(task)


def task_seed(config: Mapping[str, Any]) -> int:
    """A 64-bit seed derived from the task's identity only.

    ``SeedSequence(entropy=int(config_hash(config), 16)).generate_state(1, uint64)[0]``:
    the same config gives the same seed in every process, on every backend,
    whatever the worker count or completion order.

    Examples
    --------
    >>> task_seed({"id": "a", "shard": 0}) == task_seed({"shard": 0, "id": "a"})
    True
    >>> task_seed({"id": "a", "shard": 0}) != task_seed({"id": "a", "shard": 1})
    True
    """
    entropy = int(config_hash(config), 16)
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def _progress(total: int, desc: str) -> tqdm:
    """A tqdm bar on stderr (hidden when stderr is not a terminal)."""
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=None, leave=False, unit="task")


class Executor(ABC):
    """Maps a picklable function over a list of tasks; results come back in task order.

    Use as a context manager (``with make_executor(...) as ex:``) so that
    worker processes and clusters are shut down.
    """

    #: Number of tasks that may run at the same time.
    workers: int = 1

    @abstractmethod
    def map(self, fn: Callable[[Any], R], tasks: Sequence[Mapping[str, Any]], *,
            desc: str = "tasks") -> list[R]:
        """``[fn(task) for task in tasks]``, computed by the backend, with a progress bar.

        ``fn`` must be a module-level (picklable) function. An exception raised
        by a task propagates; results of tasks that finished were written to
        the store by the tasks themselves, so a rerun resumes from them.
        """

    @abstractmethod
    def close(self) -> None:
        """Release workers and clusters the executor started."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """Local processes: in this process for ``workers=1``, else a spawned process pool.

    Parameters
    ----------
    workers : int
        Number of worker processes (>= 1); 1 runs every task in this process.
    """

    def __init__(self, workers: int = 1) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers = {workers!r}, expected a positive integer")
        self.workers = workers

    def map(self, fn: Callable[[Any], R], tasks: Sequence[Mapping[str, Any]], *,
            desc: str = "tasks") -> list[R]:
        tasks = list(tasks)
        if not tasks:
            return []
        if self.workers == 1:
            out = []
            with _progress(len(tasks), desc) as bar:
                for task in tasks:
                    out.append(fn(task))
                    bar.update()
            return out
        results: dict[int, R] = {}
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)),
                                   mp_context=multiprocessing.get_context("spawn"))
        try:
            index = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
            pending: set[Future] = set(index)
            with _progress(len(tasks), desc) as bar:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        results[index[fut]] = fut.result()  # re-raises a task's exception
                        bar.update()
        except BaseException:
            _abandon(pool)
            raise
        pool.shutdown(wait=True)
        return [results[i] for i in range(len(tasks))]

    def close(self) -> None:
        """Nothing to release: a pool lives only for the duration of one :meth:`map`."""


def _abandon(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now (Ctrl-C, a failed task): cancel queued tasks, end running workers.

    Running tasks are lost, not half-written (every write is atomic), and are
    recomputed by the next run. ``_processes`` is the pool's private map of
    worker processes; without it we fall back to waiting for running tasks.
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=5)
    if not procs:
        pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Tasks on a Dask cluster through :class:`distributed.Client`.

    Parameters
    ----------
    address : str
        A scheduler address (``tcp://host:8786``), or ``"local"`` to start a
        :class:`distributed.LocalCluster` on 127.0.0.1: ``workers`` processes,
        one thread each, dashboard disabled.
    workers : int
        Worker processes of the local cluster (ignored for a remote scheduler).

    Notes
    -----
    Tasks write their results under the output directory, so with a remote
    scheduler every worker must see that directory (a shared filesystem).
    Each task key is ``boundlab-<config hash>``: resubmitting a task the
    cluster already holds is recognised by Dask as the same task.
    """

    def __init__(self, address: str, workers: int = 1) -> None:
        try:
            import distributed
        except ImportError as exc:
            raise ImportError(DASK_EXTRA_HINT) from exc
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers = {workers!r}, expected a positive integer")
        self._cluster = None
        if address == "local":
            self._cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, worker_dashboard_address=None, silence_logs=40)
            self._client = distributed.Client(self._cluster)
        else:
            self._client = distributed.Client(address)
        self.workers = max(1, sum(w.get("nthreads", 1) for w in
                                  self._client.scheduler_info()["workers"].values()))

    @property
    def client(self) -> Any:
        """The :class:`distributed.Client`."""
        return self._client

    def map(self, fn: Callable[[Any], R], tasks: Sequence[Mapping[str, Any]], *,
            desc: str = "tasks") -> list[R]:
        from distributed import as_completed

        tasks = list(tasks)
        if not tasks:
            return []
        keys = [f"boundlab-{task_key(t)}" for t in tasks]
        futures = self._client.map(fn, tasks, key=keys)
        try:
            with _progress(len(tasks), desc) as bar:
                for fut in as_completed(futures):
                    if fut.status == "error":
                        fut.result()  # re-raises the task's exception
                    bar.update()
            return self._client.gather(futures)
        finally:
            self._client.cancel(futures)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(scheduler: str | None = None, workers: int = 1) -> Executor:
    """:class:`DaskExecutor` on ``scheduler`` when given (``"local"``: a LocalCluster of
    ``workers`` processes), else :class:`LocalExecutor` with ``workers`` processes."""
    if scheduler:
        return DaskExecutor(scheduler, workers=workers)
    return LocalExecutor(workers)
