"""Hot reload: a running service switches to the release ``deployed`` links to, without a restart.

Stage 6 and ``python -m shared release rollback`` make a release live by
switching the link ``models/<task>/deployed`` in one rename (``shared.deploy.release``).
Each service process (each worker of ``--workers N``) holds one
:class:`Reloader`, which notices the switch in two ways:

- it **watches** the link: every ``interval`` seconds (``--reload-interval``,
  default 1; 0 turns watching off) it reads where the link points, one
  ``readlink`` when nothing changed;
- ``POST /admin/reload`` asks it to look at once, and answers with the outcome.

A new release is loaded in a thread, off the request path, with every check
of start-up (:func:`load_release`): the SHA-256 of every file against the
manifest, the library versions, the trusted types, and a warm-up that must
score a few texts with valid scores. Only a release that passed them all is
swapped in: one assignment in the event loop's thread, between two batches
(a batch is scored and logged in one step, ``shared.serving.batching``), so a batch
being scored finishes on the model it started with, and every answer and
every log row carries the version of the model that scored it.

A release that fails a check is **not** swapped in: the previous model keeps
serving, ``/health`` says ``degraded`` with the refused release and the
reason (:meth:`Reloader.reasons`), and it is tried again only when the link
or the release's manifest or model file changes, or on ``POST /admin/reload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.core.catalog import MissingArtifactError
from shared.core.manifest import (
    MANIFEST_NAME,
    MODEL_NAME,
    LibraryMismatchError,
    ManifestMismatchError,
)
from shared.core.modelfile import UntrustedModelError
from shared.core.text_rules import MAX_TEXT_CHARS
from shared.serving.predictor import Predictor

logger = logging.getLogger("shared.serving.hot_reload")

#: seconds between two looks at the ``deployed`` link (0: no watching)
DEFAULT_INTERVAL = 1.0
#: texts a release must score, each with a finite score in [0, 1], before it serves
WARM_UP_TEXTS = ("warm-up", "This is a short text to check that the model answers.")
#: outcomes of :meth:`Reloader.check`
UNCHANGED, RELOADED, REFUSED = "unchanged", "reloaded", "refused"


class ReleaseRefused(RuntimeError):
    """A release cannot be served; the message says why (the same words at start-up and reload)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def refusal(error: Exception, deployed_dir: str | os.PathLike[str]) -> str:
    """Why a release that raised ``error`` while loading cannot be served."""
    if isinstance(error, LibraryMismatchError):
        return f"the model needs other library versions: {error}"
    if isinstance(error, ManifestMismatchError):
        return f"the deployed files do not match the manifest: {error}"
    if isinstance(error, UntrustedModelError):
        return f"the model holds untrusted types: {error}"
    if isinstance(error, MissingArtifactError):
        return f"no deployed model in {deployed_dir}: {error}"
    return f"the release could not be loaded ({type(error).__name__}: {error})"


def load_release(deployed_dir: str | os.PathLike[str],
                 max_text_chars: int = MAX_TEXT_CHARS) -> Predictor:
    """The predictor of the release ``deployed_dir`` is (or links to), after every check.

    Hashes, library versions and trusted types (``Predictor.from_deployed``),
    then the warm-up: every text of ``WARM_UP_TEXTS`` must get a valid score.
    Raises :class:`ReleaseRefused` naming what failed; anything the loading
    raises is a refusal, never a crash of the process that serves.
    """
    try:
        predictor = Predictor.from_deployed(deployed_dir, max_text_chars)
        scored = predictor.score(list(WARM_UP_TEXTS))
    except Exception as error:  # noqa: BLE001 - any failure refuses the release, with its reason
        raise ReleaseRefused(refusal(error, deployed_dir)) from None
    failed = [e for e in scored.error if e]
    if failed:
        raise ReleaseRefused(f"the model failed its warm-up: {failed[0]}")
    return predictor


def release_name(predictor: Predictor) -> str:
    """The release a predictor came from: its manifest's name, else its folder's."""
    if predictor.manifest.release:
        return predictor.manifest.release
    return predictor.folder.name if predictor.folder is not None else ""


def _fingerprint(folder: Path) -> tuple:
    """What identifies a release folder's content for the watcher: the folder, and the
    inode, size and time of its manifest and model (a file restored in place changes it)."""
    marks: list[tuple] = [(str(folder),)]
    for name in (MANIFEST_NAME, MODEL_NAME):
        try:
            stat = (folder / name).stat()
            marks.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
        except OSError:
            marks.append(())
    return tuple(marks)


@dataclass
class Reloader:
    """The model one service process serves, and the switch to the live release.

    ``predictor`` is what answers now; ``on_swap`` is called with the new
    predictor in the event loop's thread right after a swap (the service points
    its batcher at it). Every method runs in the event loop's thread; loading
    runs in a worker thread.
    """

    deployed_dir: Path
    predictor: Predictor
    max_text_chars: int = MAX_TEXT_CHARS
    interval: float = DEFAULT_INTERVAL
    on_swap: Callable[[Predictor], None] | None = None
    #: the last release refused (release, folder, reason, at), None once a release serves
    refused: dict[str, Any] | None = None
    #: the last swap (from, to, at, seconds to load)
    last_swap: dict[str, Any] | None = None
    loaded_at: str = ""
    reloads: int = 0
    _tried: tuple | None = None
    _lock: asyncio.Lock | None = None
    _task: asyncio.Task | None = None

    def __post_init__(self) -> None:
        self.deployed_dir = Path(self.deployed_dir)
        self.loaded_at = self.loaded_at or _now()

    @property
    def release(self) -> str:
        """The release served now."""
        return release_name(self.predictor)

    def target(self) -> Path:
        """The release folder ``deployed`` points to now (the path itself when it is not a link)."""
        return Path(os.path.realpath(self.deployed_dir))

    async def check(self, force: bool = False) -> dict[str, Any]:
        """Serve the release ``deployed`` points to, if it is not the one served.

        Returns the outcome: ``unchanged``, ``reloaded`` or ``refused`` (with the
        reason). A release refused before is tried again only when its folder,
        manifest or model changed, or when ``force`` is set (``POST /admin/reload``).
        One check at a time: a second caller waits for the first and sees its result.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            target = self.target()
            served = self.predictor.folder
            if served is not None and target == Path(os.path.realpath(served)):
                if self.refused is not None:  # the link went back to the served release
                    logger.warning("deployed points to %s again, which this process serves; "
                                   "the refusal of %s no longer applies", self.release,
                                   self.refused["release"])
                self.refused = None
                self._tried = None
                return self._outcome(UNCHANGED)
            fingerprint = _fingerprint(target)
            if not force and fingerprint == self._tried:
                return self._outcome(REFUSED)  # already refused as it is
            self._tried = fingerprint
            began = time.perf_counter()
            try:
                # a worker thread: the event loop goes on answering with the served model
                predictor = await asyncio.to_thread(load_release, target, self.max_text_chars)
            except ReleaseRefused as error:
                self.refused = {"release": target.name, "folder": str(target),
                                "reason": str(error), "at": _now()}
                logger.warning("pid %d refused release %s and keeps serving %s: %s",
                               os.getpid(), target.name, self.release, error)
                return self._outcome(REFUSED)
            before = self.release
            self._swap(predictor)
            self.last_swap = {"from": before, "to": self.release, "at": self.loaded_at,
                              "load_seconds": round(time.perf_counter() - began, 3)}
            logger.warning("pid %d now serves release %s (model %s), was %s; loaded in %.2f s",
                           os.getpid(), self.release, predictor.model_version, before,
                           self.last_swap["load_seconds"])
            return self._outcome(RELOADED)

    def _swap(self, predictor: Predictor) -> None:
        """Make ``predictor`` the one that answers: one assignment, in the loop's thread."""
        self.predictor = predictor
        self.loaded_at = _now()
        self.reloads += 1
        self.refused = None
        self._tried = None
        if self.on_swap is not None:
            self.on_swap(predictor)

    def _outcome(self, outcome: str) -> dict[str, Any]:
        answer = {"outcome": outcome, "pid": os.getpid(), "release": self.release,
                  "model_version": self.predictor.model_version}
        if outcome == REFUSED and self.refused is not None:
            answer["refused"] = self.refused
        return answer

    async def watch(self) -> None:
        """Check every ``interval`` seconds until cancelled; a failed check is logged, not fatal."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one check
                logger.exception("pid %d: the check of %s failed", os.getpid(), self.deployed_dir)

    def start(self) -> None:
        """Start watching (in the running event loop), unless ``interval`` is 0."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.watch())

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def reasons(self) -> list[str]:
        """Why the served model is not the live release (empty when it is)."""
        if self.refused is None:
            return []
        return [f"release {self.refused['release']} was refused at {self.refused['at']} and "
                f"release {self.release} still serves: {self.refused['reason']}"]

    def report(self) -> dict[str, Any]:
        """What ``/health`` says about reloading."""
        return {"pid": os.getpid(), "watching": self._task is not None and not self._task.done(),
                "interval_s": self.interval, "loaded_at": self.loaded_at,
                "reloads": self.reloads, "last_swap": self.last_swap, "refused": self.refused}
