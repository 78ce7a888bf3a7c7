"""Dask as the cluster engine: connecting to a scheduler, or starting a local cluster.

    with cluster.connect("tcp://10.0.0.5:8786") as client: ...   # a running scheduler
    with cluster.connect("local") as client: ...                  # a LocalCluster for the block
    with cluster.connect(None) as client: ...                     # DASK_SCHEDULER_ADDRESS, or None

The address comes from ``--dask ADDRESS`` (runner, batch command) or from
Dask's own ``DASK_SCHEDULER_ADDRESS`` variable. ``local`` starts a
``distributed.LocalCluster`` on 127.0.0.1 (worker processes, one thread
each) for the block and stops it afterwards. The runner exports the address
it uses, so every notebook kernel it starts connects to the same scheduler
(:func:`for_run`). Dask is imported only when a cluster is asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

ENVIRONMENT = "DASK_SCHEDULER_ADDRESS"
LOCAL = "local"


class ClusterError(RuntimeError):
    """The scheduler cannot be reached; the message says which address and what to do."""


def resolve_address(option: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The scheduler to use: ``option`` if given, else ``DASK_SCHEDULER_ADDRESS``, else None.

    An empty string means "no cluster" (it overrides the variable).
    """
    environ = os.environ if environ is None else environ
    address = option if option is not None else environ.get(ENVIRONMENT)
    return address.strip() or None if address is not None else None


#: how long a client tries to reach a scheduler before the run is refused
CONNECT_TIMEOUT_SECONDS = 10.0


@contextlib.contextmanager
def connect(
    option: str | None = None, n_workers: int | None = None, timeout: float | None = None,
) -> Iterator[Any]:
    """A ``distributed.Client`` for the block, or None when no cluster is asked for.

    ``local`` starts a LocalCluster of ``n_workers`` processes (default: one
    per core) listening on 127.0.0.1 only, and closes it afterwards. A scheduler that does
    not answer within ``timeout`` seconds (default :data:`CONNECT_TIMEOUT_SECONDS`) raises
    :class:`ClusterError`.
    """
    address = resolve_address(option)
    if address is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if address == LOCAL:
        with LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1,
                          processes=True, host="127.0.0.1", dashboard_address=None) as local, \
                Client(local) as client:
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS if timeout is None else timeout)
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address!r} ({error}). Start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS`, or pass --dask local "
            f"for a cluster on this machine; unset {ENVIRONMENT} to run without Dask."
        ) from None
    with client:
        yield client


@contextlib.contextmanager
def joblib_backend(client: Any) -> Iterator[None]:
    """joblib's ``Parallel`` runs on the cluster inside the block (nothing changes without one).

    ``shared.model.search`` parallelises with joblib, so the stage-4 search runs on the
    workers unchanged: the same tasks, the same seeds, the same results.
    """
    if client is None:
        yield
        return
    import joblib

    with joblib.parallel_config(backend="dask"):
        yield


@contextlib.contextmanager
def for_run(option: str | None) -> Iterator[str | None]:
    """The runner's side: resolve ``--dask``, start a LocalCluster for ``local``, and export
    the scheduler's address as DASK_SCHEDULER_ADDRESS for the kernels; restore it afterwards."""
    address = resolve_address(option)
    if address is None:
        yield None
        return
    previous = os.environ.get(ENVIRONMENT)
    with connect(address) as client:
        os.environ[ENVIRONMENT] = client.scheduler.address
        try:
            yield client.scheduler.address
        finally:
            if previous is None:
                os.environ.pop(ENVIRONMENT, None)
            else:
                os.environ[ENVIRONMENT] = previous


def describe(client: Any) -> str:
    """One line for a notebook: where the work runs."""
    if client is None:
        return "no Dask cluster: this kernel's processes do the work"
    workers = client.scheduler_info().get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return (f"Dask cluster at {client.scheduler.address}: {len(workers)} workers, "
            f"{threads} threads")
