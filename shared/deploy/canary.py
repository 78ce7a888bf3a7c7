"""Stage 6's canary: the staging folder is tried in full before it may go live.

Four checks run on the staging folder itself, each only if the one before
passed:

1. it reloads the way the service loads it: every file matches the manifest,
   the libraries are compatible, the model holds only trusted types;
2. the reloaded model reproduces stage 5's reference scores bit for bit;
3. it is within the spec's cost budget: ``predict_proba`` on one text takes at
   most ``max_text_ms`` and the model file is at most ``max_model_mb``;
4. the real service (the start-up checks and application of ``python -m
   shared.serving.serve``, in a thread: ``shared.serving.local_service.round_trip``, all the
   canary asks of the service), started on the staging folder on a free
   loopback port, answers ``/health`` with the staging model's version and
   ``/predict`` with the same labels and confidences as the model in-process.

The canary also measures the p95 latency per text (single-text calls, as the
predictor times them for the prediction log), which monitoring compares
production with. Its answers go to a throw-away prediction log, never the
task's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from shared.core import storage
from shared.core.catalog import Catalog, MissingArtifactError
from shared.core.manifest import MODEL_NAME, ManifestMismatchError
from shared.core.modelfile import UntrustedModelError
from shared.core.problem import ProblemSpec
from shared.core.records import Gate, GateCheck
from shared.deploy.model_cost import PredictCost, predict_cost
from shared.model.scoring import positive_scores
from shared.monitoring.drift import latency_p95
from shared.serving.local_service import NoAnswerError, round_trip
from shared.serving.predictor import Predictor

#: reference texts sent over HTTP
HTTP_TEXTS = 8
#: reference texts timed one at a time for the deploy-time latency
LATENCY_TEXTS = 100
#: confidences travel over HTTP rounded to 6 decimals
HTTP_TOLERANCE = 1e-6


def run(staging: Path, task: str) -> tuple[Gate, float | None, dict[str, float] | None]:
    """The canary's checks on ``staging``, the p95 latency per text in ms, and what the
    model's ``predict_proba`` costs for one text and for a batch of 20 (both None if it did
    not get that far). The gate passes only when every check passed."""
    checks: list[GateCheck] = []
    try:
        predictor = Predictor.from_deployed(staging)
    except (ManifestMismatchError, UntrustedModelError, MissingArtifactError) as error:
        return Gate.of([GateCheck(f"reloads from the staging folder: refused ({error})", 0.0,
                                  False)]), None, None
    checks.append(GateCheck("reloads from the staging folder (hashes, libraries, types)", 1.0,
                            True))
    reference = storage.read_csv(staging / "reference_predictions.csv")
    scores = positive_scores(predictor.model, reference["text"], predictor.spec.positive_label)
    identical = scores == reference["score"].to_numpy(dtype=float)
    checks.append(GateCheck(
        f"reproduces stage 5's scores bit for bit ({int(identical.sum())} of {len(identical)} "
        "texts)", float(identical.mean()), bool(identical.all())))
    if not identical.all():
        return Gate.of(checks), None, None
    texts = list(reference["text"])
    latency = _latency_p95(predictor, texts)
    cost = predict_cost(predictor.model, texts)
    checks.append(_within_budget(cost, (staging / MODEL_NAME).stat().st_size, predictor.spec))
    if checks[-1].passed:
        checks.append(_http_round_trip(staging, task, predictor, texts))
    return Gate.of(checks), latency, cost.as_dict()


def _within_budget(cost: PredictCost, model_bytes: int, spec: ProblemSpec) -> GateCheck:
    """The spec's cost budget: one text's ``predict_proba`` time and the model file's size.

    The check's name carries the budget, not the measurement (which differs from run
    to run); a refusal names both.
    """
    megabytes = model_bytes / 1e6
    over = []
    if cost.single_text_ms > spec.max_text_ms:
        over.append(f"one text takes {cost.single_text_ms:.2f} ms (max_text_ms "
                    f"{spec.max_text_ms:g})")
    if megabytes > spec.max_model_mb:
        over.append(f"the model file is {megabytes:.1f} MB (max_model_mb {spec.max_model_mb:g})")
    if over:
        return GateCheck("within the cost budget: refused, " + " and ".join(over)
                         + "; choose a cheaper model or raise the budget with -p", 0.0, False)
    return GateCheck(f"within the cost budget (one text <= {spec.max_text_ms:g} ms, model file "
                     f"<= {spec.max_model_mb:g} MB)", 1.0, True)


def _latency_p95(predictor: Predictor, texts: list[str]) -> float:
    """p95 of the predictor's own per-text latency over single-text calls.

    Single texts are the slowest per text (a batch shares the overhead), so
    production windows of any request size compare with a generous baseline. Timed as new
    texts (``embedding.forgetting``): the test texts are remembered by now, and a baseline of
    remembered texts made the live latency of new ones look three times too slow.
    """
    from shared.model.embedding import forgetting

    with forgetting():
        return latency_p95([predictor.score([text]).latency_ms
                            for text in texts[:LATENCY_TEXTS]])


def _http_round_trip(staging: Path, task: str, predictor: Predictor,
                     texts: list[str]) -> GateCheck:
    """Serve ``staging`` (the service's own start-up checks and application, over HTTP, in a
    thread) and compare its answers with ``predictor``'s."""
    sent = texts[:HTTP_TEXTS]
    expected = predictor.predict(sent)
    with tempfile.TemporaryDirectory(prefix="canary-") as scratch:
        # the service serves <root>/models/<task>/deployed: here that is a link to staging
        root = Path(scratch)
        deployed = Catalog.for_task(task, root).deployed_dir
        deployed.parent.mkdir(parents=True)
        deployed.symlink_to(staging.resolve(), target_is_directory=True)
        try:
            answers = round_trip(task, root, sent, log_path=root / "canary.sqlite")
        except NoAnswerError as error:
            return GateCheck(f"serves over HTTP: no answer from the service ({error})", 0.0,
                             False)
    health, answer = answers.health, answers.predict
    if health.status != 200 or health.body.get("model_version") != predictor.model_version:
        return GateCheck(f"serves over HTTP: /health answered {health.status} {health.body}",
                         0.0, False)
    if answer.status != 200:
        return GateCheck(f"serves over HTTP: /predict answered {answer.status} {answer.body}",
                         0.0, False)
    answered = pd.DataFrame(answer.body.get("predictions", []))
    if len(answered) != len(sent):
        return GateCheck(f"serves over HTTP: {len(answered)} answers to {len(sent)} texts", 0.0,
                         False)
    alike = ((answered["label"].to_numpy() == expected["label"].to_numpy())
             & (np.abs(answered["confidence"].to_numpy() - expected["confidence"].to_numpy())
                <= HTTP_TOLERANCE))
    return GateCheck(
        f"answers over HTTP as in-process ({int(alike.sum())} of {len(sent)} texts, model "
        f"{predictor.model_version})", float(alike.mean()), bool(alike.all()))
