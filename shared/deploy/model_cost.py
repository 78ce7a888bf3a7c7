"""What one ``predict_proba`` call of a loaded model costs: one text, and a batch of texts.

Stage 6 states these figures in the model card, and the serving benchmark uses
them as the limit the service is measured against. Timings are wall-clock,
in-process, single-threaded, and the median of several repeats, because the
machine is shared and one measurement alone is noise.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PredictCost:
    """Median cost of ``predict_proba`` for one text and for a batch of ``batch_size`` texts."""

    single_text_ms: float
    batch_size: int
    batch_ms: float
    repeats: int

    @property
    def single_texts_per_second(self) -> float:
        """Texts a second when each text is its own call."""
        return 1000 / self.single_text_ms

    @property
    def batch_texts_per_second(self) -> float:
        """Texts a second when they come in batches of ``batch_size``."""
        return 1000 * self.batch_size / self.batch_ms

    def as_dict(self) -> dict[str, float]:
        """The figures, rounded, with the rates, for a card or a JSON report."""
        return {**asdict(self), "single_text_ms": round(self.single_text_ms, 3),
                "batch_ms": round(self.batch_ms, 3),
                "single_texts_per_second": round(self.single_texts_per_second, 1),
                "batch_texts_per_second": round(self.batch_texts_per_second, 1)}


def median_ms(call: Callable[[], Any], repeats: int, calls_per_repeat: int = 1) -> float:
    """The median over ``repeats`` of the mean wall time of ``call``, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls_per_repeat):
            call()
        times.append((time.perf_counter() - start) * 1000 / calls_per_repeat)
    return statistics.median(times)


def predict_cost(model: Any, texts: Sequence[str], batch_size: int = 20, repeats: int = 3,
                 single_calls: int = 10) -> PredictCost:
    """Measure ``model.predict_proba`` in this process on ``texts`` (cycled as needed).

    A repeat times ``single_calls`` one-text calls (on different texts) and one
    call on ``batch_size`` texts; each figure is the median over ``repeats``.

    Feature groups that remember texts (the sentence encoder) forget them for the timing:
    the texts repeat, and a cost measured on remembered texts is not the cost of a new one.
    """
    from shared.model.embedding import forgetting

    if not texts:
        raise ValueError("predict_cost needs at least one text")
    singles = [[texts[i % len(texts)]] for i in range(single_calls)]
    batch = [texts[i % len(texts)] for i in range(batch_size)]
    with forgetting():
        model.predict_proba(batch[:5])  # warm-up: first-call allocations are not the steady cost
        cycle = iter(singles * repeats)
        single = median_ms(lambda: model.predict_proba(next(cycle)), repeats, single_calls)
        batch_ms = median_ms(lambda: model.predict_proba(batch), repeats)
    return PredictCost(single_text_ms=single, batch_size=batch_size, batch_ms=batch_ms,
                       repeats=repeats)
