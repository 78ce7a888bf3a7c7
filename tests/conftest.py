"""Small fixtures made in code: a spec, a toy corpus and a project folder in tmp."""

from __future__ import annotations

import pytest

from shared.problem import ProblemSpec
from shared.tasks import get_task

TOY_TEXTS = [
    "I loved this, wonderful and great",
    "great value, works perfectly, love it",
    "wonderful film, superb acting",
    "excellent food and lovely staff",
    "superb, would gladly buy again",
    "lovely little gadget, great battery",
    "terrible, broke after a day",
    "awful service and cold food",
    "boring film, awful script",
    "broke on arrival, terrible support",
    "cold, bland and awful",
    "terrible battery, boring design",
]
TOY_LABELS = ["positive"] * 6 + ["negative"] * 6


@pytest.fixture
def spec() -> ProblemSpec:
    return get_task("sentiment").spec


@pytest.fixture
def spam_spec() -> ProblemSpec:
    return get_task("spam").spec


@pytest.fixture
def toy_corpus() -> tuple[list[str], list[str]]:
    return list(TOY_TEXTS), list(TOY_LABELS)
