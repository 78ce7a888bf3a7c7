"""The HTTP prediction service: a FastAPI application for the deployed model of one task.

Endpoints:

- ``GET /health``: the model is loaded, and its version (the model file's hash);
- ``GET /model``: the manifest, held-out metrics, limits and the model card by section;
- ``POST /predict`` with ``{"texts": [...]}``: for each text a label, a confidence and
  a prediction id; every answer is appended to the prediction log first;
- ``POST /feedback`` with ``{"prediction_id": ..., "true_label": ...}`` once the true
  label is known.

Requests are bounded in body size (413, refused while the body streams, before
parsing), texts per request and characters per text. Bad requests get a 4xx
JSON answer ``{"detail": "..."}`` and never disturb other requests. The command
that loads the model and listens is ``shared.serve``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import prediction_log
from shared.catalog import PROJECT_DIR, Catalog
from shared.manifest import MODEL_NAME
from shared.predictor import Predictor
from shared.text import MAX_TEXT_CHARS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: source recorded in the prediction log for answers of the service
SOURCE = "service"


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
    max_concurrency: int = 64
    store_text: bool = True
    log_path: Path | None = None

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


class BodySizeLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes``, declared or streamed.

    The body is read (up to the limit) before the application sees it, so an
    oversized or chunked upload never reaches the JSON parser.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Any, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_large = (f"request body is larger than {self.max_bytes:,} bytes; send fewer or "
                     "shorter texts per request")
        if declared is not None:
            try:
                declared_size = int(declared)
            except ValueError:
                await self._reject(send, 400, "Content-Length is not a number")
                return
            if declared_size > self.max_bytes:
                await self._reject(send, 413, too_large)
                return
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


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


def create_app(predictor: Predictor, settings: Settings) -> BodySizeLimit:
    """The FastAPI application answering for ``predictor``, wrapped in the body-size limit."""
    spec = predictor.spec
    manifest = predictor.manifest
    log_path = settings.prediction_log
    card_path = settings.catalog.path("model_card")
    card = _model_card_sections(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
    app = FastAPI(
        title=f"{spec.task} prediction service",
        version=predictor.model_version,
        description=spec.description,
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if (await request.body()) and "json" not in content_type.lower():
            return JSONResponse(
                {"detail": f"send the body as JSON with Content-Type: application/json "
                           f"(got {content_type or 'no Content-Type'})"}, status_code=415)
        status, detail = _validation_message(list(error.errors()))
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.get("/health")
    def health() -> dict[str, Any]:
        """The model is loaded; its version (the first 12 hex digits of its SHA-256) and the
        release it came from (``shared.release``)."""
        return {
            "status": "ok",
            "task": spec.task,
            "model_loaded": True,
            "model_version": predictor.model_version,
            "model_sha256": manifest.files.get(MODEL_NAME, ""),
            "release": manifest.release,
        }

    @app.get("/model")
    def model_info() -> dict[str, Any]:
        """What is deployed: manifest, held-out metrics, the gate, limits and the model card."""
        return {
            "task": spec.task,
            "model_version": predictor.model_version,
            "deployed_at": manifest.deployed_at,
            "files": manifest.files,
            "libraries": manifest.libraries,
            "training_data_sha256": manifest.training_data_sha256,
            "labels": list(spec.labels),
            "positive_label": spec.positive_label,
            "threshold": predictor.threshold,
            "confidence_threshold": spec.confidence_threshold,
            "metrics": manifest.metrics.test,
            "gate_passed": manifest.metrics.gate.passed,
            "limits": settings.limits(),
            "model_card": card,
        }

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        """Label, confidence and prediction id for every text; all logged before answering."""
        texts = request.texts
        if not texts:
            raise HTTPException(422, "texts is empty: send at least one text")
        if len(texts) > settings.max_texts:
            raise HTTPException(
                422, f"too many texts: {len(texts)} in one request, at most {settings.max_texts}"
            )
        problems = [(i, predictor.check_text(t)) for i, t in enumerate(texts)]
        problems = [(i, p) for i, p in problems if p]
        if problems:
            shown = "; ".join(f"texts[{i}]: {p}" for i, p in problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise HTTPException(422, shown + more)
        try:
            result, batch_id = predictor.predict_and_log(
                list(texts), log_path, SOURCE, settings.store_text
            )
        except sqlite3.Error as error:
            raise HTTPException(
                503, f"the prediction log is unavailable ({error}); nothing was answered"
            ) from None
        return {
            "model_version": predictor.model_version,
            "batch_id": batch_id,
            "predictions": [
                {
                    "prediction_id": r.prediction_id,
                    "label": r.label,
                    "confidence": round(float(r.confidence), 6),
                    "low_confidence": bool(r.low_confidence),
                }
                for r in result.itertuples()
            ],
        }

    @app.post("/feedback")
    def feedback(request: FeedbackRequest) -> dict[str, Any]:
        """Record the true label of an earlier prediction (the latest feedback counts)."""
        if request.true_label not in spec.labels:
            raise HTTPException(
                422, f"true_label {request.true_label!r} is not one of: {', '.join(spec.labels)}"
            )
        try:
            predicted = prediction_log.add_feedback(log_path, request.prediction_id, request.true_label)
        except prediction_log.UnknownPredictionError:
            raise HTTPException(
                404, f"unknown prediction id {request.prediction_id!r}"
            ) from None
        except sqlite3.Error as error:
            raise HTTPException(503, f"the prediction log is unavailable ({error})") from None
        return {
            "prediction_id": request.prediction_id,
            "true_label": request.true_label,
            "predicted_label": predicted,
            "correct": predicted == request.true_label,
        }

    return BodySizeLimit(app, settings.max_body_bytes)
