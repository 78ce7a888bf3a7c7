"""The HTTP prediction service: a FastAPI application for the deployed model of one task.

Endpoints:

- ``GET /health``: the model is loaded, the version (the model file's hash) and
  release it serves now, and ``status``: ``ok``, or ``degraded`` with the
  reasons: answered 503 when the recent requests fail in the model or the
  prediction log cannot be written (``shared.serving.health``), 200 when only the
  live release was refused by the hot reload and the previous one still
  answers (``shared.serving.hot_reload``);
- ``GET /model``: the manifest, held-out metrics, limits and the model card by section;
- ``POST /predict`` with ``{"texts": [...]}``: for each text a label, a confidence and
  a prediction id; every answer is appended to the prediction log first;
- ``POST /feedback`` with ``{"prediction_id": ..., "true_label": ...}`` once the true
  label is known; with API keys, the label is recorded with the key's public name
  (``shared.serving.guards.key_id``, never the key), and only such labels reach a retrain;
- ``POST /admin/reload``: serve the release ``deployed`` links to now, if it is
  not the one served (``shared.serving.hot_reload``; each process also watches the
  link on its own every ``reload_interval`` seconds).

Every path but ``/health`` needs ``Authorization: Bearer <key>`` when the
service has API keys; without keys ``/admin/...`` answers loopback clients
only (``shared.serving.guards``). At most ``max_concurrency`` requests are in flight
per process; the next gets 503 at once. Requests are bounded in body size
(413, refused while the body streams, before parsing), texts per request and
characters per text. Bad requests get a 4xx JSON answer ``{"detail": "..."}``
and never disturb other requests, nor join a batch. Checked requests are
scored and logged in batches (``shared.serving.batching``). A request the model fails
on (a score that is NaN, infinite or outside [0, 1], or an exception) is
logged with the error and answered 500; a log that cannot be written, 503.
Both answers carry a request id, in the body and in the ``X-Request-ID``
header, and the server logs it: the id is also the request's batch id in the
prediction log. The command that loads the model and listens is ``shared.serving.serve``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.core.catalog import PROJECT_DIR, Catalog
from shared.core.manifest import MODEL_NAME
from shared.core.text_rules import MAX_TEXT_CHARS
from shared.serving import prediction_log
from shared.serving.batching import Batcher, CountArrivals, LogUnavailableError, ModelFailedError
from shared.serving.guards import (
    KEY_ID_STATE,
    ApiKeyAuth,
    BodySizeLimit,
    ConcurrencyLimit,
    LoopbackAdmin,
)
from shared.serving.hot_reload import DEFAULT_INTERVAL, REFUSED, Reloader
from shared.serving.predictor import InvalidScoreError, Predictor

logger = logging.getLogger("shared.serving.service")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: source recorded in the prediction log for answers of the service
SOURCE = "service"
#: the header that carries a request's id (its batch id in the prediction log)
REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True)
class Settings:
    """What the service listens on and what it accepts; every limit has a safe default."""

    task: str = "sentiment"
    root: Path = PROJECT_DIR
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = 1_000_000
    max_texts: int = 100
    max_text_chars: int = MAX_TEXT_CHARS
    #: load shedding: requests in flight per process (``/health`` aside); the next gets 503
    max_concurrency: int = 64
    #: open connections per process (idle keep-alive ones included): uvicorn's limit_concurrency
    max_connections: int = 1000
    #: seconds between two looks at the ``deployed`` link (0: only ``POST /admin/reload``)
    reload_interval: float = DEFAULT_INTERVAL
    store_text: bool = True
    log_path: Path | None = None
    #: longest wait for more requests to join a batch; texts per batch (1: no batching)
    batch_wait_ms: float = 2.0
    max_batch: int = 64
    #: SHA-256 digests of the API keys (``shared.serving.guards``); empty: no key needed
    api_keys: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def catalog(self) -> Catalog:
        """The artifact paths of the served task."""
        return Catalog.for_task(self.task, self.root)

    @property
    def prediction_log(self) -> Path:
        """Where answers are logged: ``log_path``, else the task's prediction log."""
        return Path(self.log_path) if self.log_path else self.catalog.path("prediction_log")

    def limits(self) -> dict[str, int]:
        """The request limits, as ``GET /model`` reports them."""
        return {"max_body_bytes": self.max_body_bytes, "max_texts": self.max_texts,
                "max_text_chars": self.max_text_chars}


class PredictRequest(BaseModel):
    """Texts to score: ``{"texts": ["...", ...]}``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr]


class FeedbackRequest(BaseModel):
    """The true label of an earlier prediction."""

    model_config = ConfigDict(extra="forbid")
    prediction_id: StrictStr
    true_label: StrictStr


def _model_card_sections(text: str) -> dict[str, str]:
    """The model card's title and each ``## section`` as plain text."""
    sections: dict[str, str] = {}
    current = "title"
    for line in text.splitlines():
        if line.startswith("# ") and "title" not in sections:
            sections["title"] = line[2:].strip()
            current = ""
        elif line.startswith("## "):
            current = line[3:].strip()
            sections[current] = ""
        elif current and line.strip():
            sections[current] = (sections[current] + "\n" + line).strip()
    return sections


def _validation_message(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """A readable status and message for pydantic's request-validation errors."""
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            return 400, f"request body is not valid JSON{': ' + str(reason) if reason else ''}"
    parts = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p != "body"]
        where = ""
        for part in location:
            where += f"[{part}]" if part.isdigit() else (f".{part}" if where else part)
        if error.get("type") == "missing" and not where:
            parts.append("request body is missing: send a JSON object")
            continue
        if not where:
            parts.append("request body must be a JSON object")
            continue
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return 422, "; ".join(parts[:10]) + (f" (and {len(parts) - 10} more)" if len(parts) > 10 else "")


def _not_json(content_type: str) -> str:
    """The 415 message for a body sent with another content type."""
    return ("send the body as JSON with Content-Type: application/json "
            f"(got {content_type or 'no Content-Type'})")


def _predict_texts(body: bytes, content_type: str) -> list[str]:
    """The texts of a ``/predict`` body, or HTTPException with the same 4xx as FastAPI would give.

    Parsed here rather than by FastAPI's body machinery, which costs more than
    scoring one text; the checks and messages are the same.
    """
    if not body:
        raise HTTPException(*_validation_message([{"type": "missing", "loc": ("body",)}]))
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/")
                                            and media.endswith("+json")):
        raise HTTPException(415, _not_json(content_type))
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        reason = getattr(error, "msg", None) or str(error)
        invalid = {"type": "json_invalid", "ctx": {"error": reason}}
        raise HTTPException(*_validation_message([invalid])) from None
    try:
        return PredictRequest.model_validate(payload).texts
    except ValidationError as error:
        raise HTTPException(*_validation_message(list(error.errors()))) from None


def create_app(predictor: Predictor, settings: Settings) -> Any:
    """The ASGI application answering for ``predictor``, then for whichever release ``deployed``
    links to (``shared.serving.hot_reload``): load limit, admin guard, key check, body limit, FastAPI."""
    spec = predictor.spec  # its task and description; the rest is read from the served one
    log_path = settings.prediction_log
    card_name = settings.catalog.path("model_card").name
    batcher = Batcher(predictor, log_path, SOURCE, settings.store_text, settings.max_batch,
                      settings.batch_wait_ms)

    def swapped(new: Predictor) -> None:
        batcher.predictor = new  # the next batch is scored by it; the current one is not
        app.version = new.model_version
        app.openapi_schema = None

    reloader = Reloader(settings.catalog.deployed_dir, predictor, settings.max_text_chars,
                        settings.reload_interval, on_swap=swapped)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reloader.start()
        yield
        await reloader.stop()
        await batcher.close()

    app = FastAPI(
        title=f"{spec.task} prediction service",
        version=predictor.model_version,
        description=spec.description,
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.state.reloader = reloader

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if (await request.body()) and "json" not in content_type.lower():
            return JSONResponse({"detail": _not_json(content_type)}, status_code=415)
        status, detail = _validation_message(list(error.errors()))
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.get("/health")
    async def health() -> JSONResponse:
        """The model is loaded; the version (the first 12 hex digits of its SHA-256) and release
        it serves now (``shared.deploy.release``), and whether recent requests succeeded: ``degraded``
        (503) with the reasons when they did not (``shared.serving.health``); ``degraded`` (200) when
        the live release was refused and the previous one still serves (``shared.serving.hot_reload``)."""
        report = batcher.health.report()
        served = reloader.predictor
        reasons = report["reasons"] + reloader.reasons()
        return JSONResponse({
            **report,
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "task": spec.task,
            "model_loaded": True,
            "model_version": served.model_version,
            "model_sha256": served.manifest.files.get(MODEL_NAME, ""),
            "release": reloader.release,
            "reload": reloader.report(),
            "load": guarded.report(),
        }, status_code=200 if report["status"] == "ok" else 503)

    def failed(status: int, detail: str, request_id: str) -> JSONResponse:
        """An error answer that names its request, as the server log does."""
        logger.error("request %s answered %d: %s", request_id, status, detail)
        return JSONResponse({"detail": detail, "request_id": request_id}, status_code=status,
                            headers={REQUEST_ID_HEADER: request_id})

    @app.post("/admin/reload")
    async def admin_reload() -> JSONResponse:
        """Serve the release ``deployed`` links to now (this process; every process also watches
        the link): ``reloaded``, ``unchanged``, or ``refused`` (409) with the reason, while the
        previous release goes on serving."""
        outcome = await reloader.check(force=True)
        return JSONResponse(outcome, status_code=409 if outcome["outcome"] == REFUSED else 200)

    @app.get("/model")
    async def model_info() -> dict[str, Any]:
        """What is served: manifest, held-out metrics, the gate, limits and the model card."""
        served = reloader.predictor
        manifest = served.manifest
        card_path = (served.folder or settings.catalog.deployed_dir) / card_name
        card = (_model_card_sections(card_path.read_text(encoding="utf-8"))
                if card_path.exists() else {})
        return {
            "task": spec.task,
            "model_version": served.model_version,
            "release": reloader.release,
            "deployed_at": manifest.deployed_at,
            "files": manifest.files,
            "libraries": manifest.libraries,
            "training_data_sha256": manifest.training_data_sha256,
            "labels": list(served.spec.labels),
            "positive_label": served.spec.positive_label,
            "threshold": served.threshold,
            "confidence_threshold": served.spec.confidence_threshold,
            "metrics": manifest.metrics.test,
            "gate_passed": manifest.metrics.gate.passed,
            "limits": settings.limits(),
            "model_card": card,
        }

    @app.post("/predict", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": PredictRequest.model_json_schema()}}}})
    async def predict(request: Request) -> Response:
        """Label, confidence and prediction id for every text; all logged before answering."""
        texts = _predict_texts(await request.body(), request.headers.get("content-type", ""))
        if not texts:
            raise HTTPException(422, "texts is empty: send at least one text")
        if len(texts) > settings.max_texts:
            raise HTTPException(
                422, f"too many texts: {len(texts)} in one request, at most {settings.max_texts}"
            )
        problems = [(i, p) for i, p in enumerate(map(reloader.predictor.check_text, texts)) if p]
        if problems:
            shown = "; ".join(f"texts[{i}]: {p}" for i, p in problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise HTTPException(422, shown + more)
        request_id = prediction_log.new_id()
        try:
            answer = await batcher.submit(texts, request.scope, request_id)
        except LogUnavailableError as error:
            return failed(503, str(error), request_id)
        except (InvalidScoreError, ModelFailedError) as error:
            return failed(500, str(error), request_id)
        except Exception as error:  # noqa: BLE001 - a bug must still answer, and be logged
            logger.exception("request %s: unexpected error", request_id)
            return failed(500, f"the service failed ({type(error).__name__}); nothing was "
                          "answered", request_id)
        # the answer is built by hand: FastAPI's generic encoder costs more than the model
        # for one text (see the profile in docs/benchmarks.md)
        return Response(json.dumps({
            "model_version": answer.model_version,  # the model that scored it, as logged
            "batch_id": answer.batch_id,
            "predictions": [
                {"prediction_id": i, "label": label, "confidence": round(c, 6), "low_confidence": low}
                for i, label, c, low in zip(answer.prediction_ids, answer.labels,
                                            answer.confidences, answer.low_confidence, strict=True)
            ],
        }).encode(), media_type="application/json", headers={REQUEST_ID_HEADER: request_id})

    @app.post("/feedback")
    def feedback(request: FeedbackRequest, http: Request) -> dict[str, Any]:
        """Record the true label of an earlier prediction (the latest feedback counts), with
        the public name of the API key that sent it when the service has keys."""
        labels = reloader.predictor.spec.labels
        if request.true_label not in labels:
            raise HTTPException(
                422, f"true_label {request.true_label!r} is not one of: {', '.join(labels)}"
            )
        try:
            predicted = prediction_log.add_feedback(
                log_path, request.prediction_id, request.true_label,
                http.scope.get("state", {}).get(KEY_ID_STATE))
        except prediction_log.UnknownPredictionError:
            raise HTTPException(
                404, f"unknown prediction id {request.prediction_id!r}"
            ) from None
        except sqlite3.Error as error:
            batcher.health.log_failed(str(error))
            raise HTTPException(503, f"the prediction log is unavailable ({error})") from None
        batcher.health.log_written()
        return {
            "prediction_id": request.prediction_id,
            "true_label": request.true_label,
            "predicted_label": predicted,
            "correct": predicted == request.true_label,
        }

    checked: Any = BodySizeLimit(app, settings.max_body_bytes)
    checked = ApiKeyAuth(checked, settings.api_keys) if settings.api_keys else LoopbackAdmin(checked)
    guarded = ConcurrencyLimit(checked, settings.max_concurrency)
    return CountArrivals(guarded, batcher)
