"""Dynamic batching: concurrent requests scored with one model call and logged in one commit.

scikit-learn pays a fixed cost per ``predict_proba`` call (input checks, the
pipeline's steps, sparse-matrix set-up) that dwarfs the cost of one short
text, and SQLite pays a fixed cost per commit. The service therefore hands
every checked request to one :class:`Batcher` per process, which:

1. takes every request waiting, whole, up to ``max_batch`` texts; while more
   requests are being received (counted by :class:`CountArrivals`) it waits for
   them, but never longer than ``wait_ms``; a lone request is scored at once,
   so one client pays no wait. Under load, requests pile up while a batch is
   being scored, and the next batch takes them all;
2. scores all their texts with one model call;
3. writes every request's predictions, each request its own batch id, in ONE
   transaction (group commit), and only then answers each request with its
   own predictions, in its own order.

Steps 2 and 3 are one synchronous step in the event loop's thread, with the
predictor the batcher held when the step began: when the service swaps in a
new release (``shared.serving.hot_reload`` assigns :attr:`Batcher.predictor` between
two batches), a batch finishes on the model it started with, and its answers
and its log rows name that model's version (:attr:`Answer.model_version`).

If the commit fails, every request of the batch gets :class:`LogUnavailableError`
(the service answers 503) and nothing of the batch is logged. If the model
fails on the combined call, each request is scored alone, so a request that
makes the model fail fails alone and the others are still answered. A request
the model failed on (an invalid score for any of its texts, or an exception)
is logged too, each text with the error, under the request's id, and gets
:class:`~shared.serving.predictor.InvalidScoreError` or :class:`ModelFailedError`: what
was answered is what was logged, and monitoring sees the failures. Every
outcome is counted in the batcher's :class:`~shared.serving.health.Health`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from shared.serving import prediction_log
from shared.serving.health import Health
from shared.serving.predictor import InvalidScoreError, Predictor, Scored

#: the ASGI scope key that marks a request counted as arriving
_ARRIVING = "shared.serving.batching.arriving"


class LogUnavailableError(RuntimeError):
    """The prediction log could not be written: nothing of the batch was answered or logged."""


class ModelFailedError(RuntimeError):
    """The model raised on a request's texts; they are logged with the error in ``batch_id``."""

    def __init__(self, error: Exception, batch_id: str = "") -> None:
        logged = f"logged with the error in batch {batch_id}" if batch_id else "not logged"
        super().__init__(f"the model could not score the texts ({type(error).__name__}: "
                         f"{error}); nothing was answered ({logged})")
        self.batch_id = batch_id


@dataclass(frozen=True)
class Answer:
    """One request's predictions, in the order of its texts, once they are in the log."""

    batch_id: str
    prediction_ids: list[str]
    labels: list[str]
    confidences: list[float]
    low_confidence: list[bool]
    #: the version of the model that scored the request (the one in its log rows)
    model_version: str = ""


@dataclass
class _Request:
    texts: list[str]
    future: asyncio.Future
    request_id: str


@dataclass
class BatchStats:
    """What the batcher has done so far (for tests and diagnostics)."""

    batches: int = 0
    requests: int = 0
    texts: int = 0
    largest_batch: int = 0


@dataclass
class Batcher:
    """Gathers checked requests of one process into batches; see the module docstring."""

    predictor: Predictor
    log_path: str | os.PathLike[str]
    source: str
    store_text: bool = True
    max_batch: int = 64
    wait_ms: float = 2.0
    stats: BatchStats = field(default_factory=BatchStats)
    health: Health = field(default_factory=Health)
    #: requests received but not yet submitted (the service counts them in and out)
    arriving: int = 0
    _queue: list[_Request] = field(default_factory=list, repr=False)
    _wakeup: asyncio.Event | None = field(default=None, repr=False)
    _task: asyncio.Task | None = field(default=None, repr=False)

    async def submit(self, texts: list[str], scope: dict | None = None,
                     request_id: str | None = None) -> Answer:
        """Score and log ``texts`` (each already checked) with whatever else is waiting.

        ``scope`` is the request's ASGI scope: a request counted as arriving stops
        counting once it is queued. ``request_id`` becomes the batch id of the
        request's rows in the log (a new id when not given).
        """
        if scope is not None:
            self.arrived(scope)
        if self._task is None or self._task.done():  # first request, or the task died
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        request = _Request(texts, asyncio.get_running_loop().create_future(),
                           request_id or prediction_log.new_id())
        self._queue.append(request)
        self._wakeup.set()
        return await request.future

    def arrived(self, scope: dict) -> None:
        """Stop counting the request of ``scope`` as arriving (once; frameworks copy scopes)."""
        counted = scope.get(_ARRIVING)
        if counted:
            counted.clear()  # a list shared by every copy of the scope
            self.arriving -= 1

    async def close(self) -> None:
        """Stop the batching task (requests still queued are refused) and its thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for request in self._queue:
            if not request.future.done():
                request.future.set_exception(LogUnavailableError("the service is stopping"))
        self._queue.clear()

    def _take(self) -> list[_Request]:
        """Whole requests from the front of the queue, up to ``max_batch`` texts (at least one)."""
        taken = [self._queue.pop(0)]
        size = len(taken[0].texts)
        while self._queue and size + len(self._queue[0].texts) <= self.max_batch:
            size += len(self._queue[0].texts)
            taken.append(self._queue.pop(0))
        return taken

    def _queued_texts(self) -> int:
        return sum(len(r.texts) for r in self._queue)

    async def _gather(self) -> None:
        """Let requests already received join, waiting at most ``wait_ms`` for them.

        A request read from its socket runs up to its ``submit`` one turn of the
        event loop later, so the batcher yields a few turns and stops as soon as
        a round brings nobody new (a lone client pays a few microseconds).
        """
        deadline = time.monotonic() + self.wait_ms / 1000
        await asyncio.sleep(0)
        while self._queued_texts() < self.max_batch and time.monotonic() < deadline:
            queued = len(self._queue)
            await asyncio.sleep(0)  # the sockets are polled
            await asyncio.sleep(0)  # the requests just read reach their submit
            if len(self._queue) == queued and self.arriving == 0:
                break

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._gather()
                batch = self._take()
                try:
                    # in the event loop's own thread: the model is Python-heavy and holds
                    # the GIL, and a worker thread fighting the loop for it measured slower
                    outcomes = self._score_and_log([r.texts for r in batch],
                                                   [r.request_id for r in batch])
                except Exception as error:  # noqa: BLE001 - the batching task must go on
                    outcomes = [error] * len(batch)
                for request, outcome in zip(batch, outcomes, strict=True):
                    if request.future.done():  # the client went away; its answer is logged
                        continue
                    if isinstance(outcome, BaseException):
                        request.future.set_exception(outcome)
                    else:
                        request.future.set_result(outcome)

    def _score(self, requests: list[list[str]], predictor: Predictor,
               ) -> list[Scored | Exception]:
        """One model call for all texts; if it fails, one call per request to isolate the failure."""
        texts = [text for request in requests for text in request]
        try:
            scored = predictor.score(texts, checked=True)
        except Exception as error:  # noqa: BLE001 - handed to the request(s) it belongs to
            if len(requests) == 1:
                return [error]
            return [outcome for request in requests
                    for outcome in self._score([request], predictor)]
        outcomes: list[Scored | Exception] = []
        start = 0
        for request in requests:
            outcomes.append(_part(scored, start, start + len(request)))
            start += len(request)
        return outcomes

    def _score_and_log(
        self, requests: list[list[str]], request_ids: list[str] | None = None,
    ) -> list[Answer | Exception]:
        """Score, then log every request in one transaction: answers, and the model's failures.

        A request the model failed on is logged (each text with the error) and
        gets InvalidScoreError or ModelFailedError instead of an answer. The
        whole step uses the predictor held when it began.
        """
        predictor = self.predictor
        self.stats.batches += 1
        self.stats.requests += len(requests)
        self.stats.texts += sum(map(len, requests))
        self.stats.largest_batch = max(self.stats.largest_batch, len(requests))
        ids = list(request_ids) if request_ids is not None else [
            prediction_log.new_id() for _ in requests]
        scored = self._score(requests, predictor)
        rows = [self._log_rows(texts, outcome) for texts, outcome in zip(requests, scored,
                                                                         strict=True)]
        outcomes: list[Answer | Exception] = []
        failures = [outcome for outcome in scored
                    if not isinstance(outcome, Scored) or len(outcome.invalid())]
        try:
            logged = prediction_log.append_batches(
                self.log_path, rows, predictor.model_version, self.source, self.store_text,
                batch_ids=ids,
            )
        except (sqlite3.Error, OSError) as error:
            self.health.log_failed(str(error))
            self._count(len(requests) - len(failures), failures)
            failure = LogUnavailableError(
                f"the prediction log is unavailable ({error}); nothing was answered")
            return [failure] * len(requests)
        self.health.log_written()
        self._count(len(requests) - len(failures), failures)
        for outcome, (batch_id, prediction_ids) in zip(scored, logged, strict=True):
            if not isinstance(outcome, Scored):
                outcomes.append(ModelFailedError(outcome, batch_id))
            elif len(outcome.invalid()):
                outcomes.append(InvalidScoreError(len(outcome.invalid()), len(outcome),
                                                  batch_id))
            else:
                outcomes.append(Answer(batch_id, prediction_ids, outcome.label.tolist(),
                                       outcome.confidence.tolist(),
                                       outcome.low_confidence.tolist(), predictor.model_version))
        return outcomes

    def _count(self, good: int, failures: list[Scored | Exception]) -> None:
        """Tell the health record how many requests the model answered and failed."""
        if good:
            self.health.scored(good)
        for failure in failures:
            reason = (f"{type(failure).__name__}: {failure}" if isinstance(failure, Exception)
                      else f"{len(failure.invalid())} invalid score(s)")
            self.health.model_failed(reason)

    @staticmethod
    def _log_rows(texts: list[str], outcome: Scored | Exception,
                  ) -> list[prediction_log.LoggedPrediction]:
        """The log rows of one request: its answers, or each text with the model's error."""
        if isinstance(outcome, Scored):
            return outcome.logged(range(len(outcome)))
        error = f"the model failed: {type(outcome).__name__}: {outcome}"[:500]
        return [prediction_log.LoggedPrediction(text, "", float("nan"), float("nan"), 0.0,
                                                None, error) for text in texts]


def _part(scored: Scored, start: int, stop: int) -> Scored:
    """The answers of texts ``start:stop`` of a batch."""
    def cut(values: Any) -> Any:
        return values[start:stop]

    return Scored(
        texts=cut(scored.texts), label=cut(scored.label), confidence=cut(scored.confidence),
        score=cut(scored.score), low_confidence=cut(scored.low_confidence),
        unknown_word_share=cut(scored.unknown_word_share), error=cut(scored.error),
        latency_ms=scored.latency_ms,
    )


class CountArrivals:
    """ASGI middleware: counts requests to ``path`` from their first byte until they are queued.

    Lets the batcher wait for requests that are still being received or checked,
    and only for those.
    """

    def __init__(self, app: Any, batcher: Batcher, path: str = "/predict") -> None:
        self.app = app
        self.batcher = batcher
        self.path = path

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        self.batcher.arriving += 1
        scope[_ARRIVING] = [True]
        try:
            await self.app(scope, receive, send)
        finally:
            self.batcher.arrived(scope)  # refused before it was queued: stop counting it
