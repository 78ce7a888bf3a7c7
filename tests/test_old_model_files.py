"""A model file written by main before the wings (issue 21) still loads, as today's classes,
and scores texts exactly as main scored them.

``tests/model_files/main_d7910e1.skops`` was written by main at d7910e1, when every module
sat flat in ``shared/`` (``tests/model_files/make_main_model.py`` says how); its JSON keeps
the texts and main's P(positive) for each. The loaded pipeline runs today's code (the text
path, the features), so equal scores also say that today's code answers as main's did.
"""

import json
import re
import zipfile
from pathlib import Path

import skops.io as sio

from shared.core import modelfile, storage
from shared.model.features import CompactTfidfVectorizer, LogCountRatio, SentimentLexicon, TextShape
from shared.model.known_words import KnownWords
from shared.model.scoring import positive_scores
from shared.model.text import TextCleaner, TextNormalizer

FILE = Path(__file__).resolve().parent / "model_files" / "main_d7910e1.skops"
RECORD = json.loads(FILE.with_suffix(".json").read_text(encoding="utf-8"))


def recorded_modules(path: Path) -> set[str]:
    """The modules of this project that a model file names its types by."""
    schema = zipfile.ZipFile(path).read("schema.json").decode("utf-8")
    return {m for m in re.findall(r'"__module__": "([^"]+)"', schema)
            if m.split(".")[0] == "shared"}


def test_the_file_is_the_one_main_wrote():
    assert storage.sha256_file(FILE) == RECORD["sha256"]
    modules = recorded_modules(FILE)
    assert len(modules) == 3 and all(m.count(".") == 1 for m in modules)  # the flat layout


def test_it_loads_and_scores_as_main_did():
    model = modelfile.load_model(FILE)
    scores = positive_scores(model, RECORD["texts"], RECORD["positive_label"])
    assert scores.tolist() == RECORD["scores"]


def test_it_is_made_of_todays_classes():
    model = modelfile.load_model(FILE)
    steps = model.named_steps
    assert type(steps["clean"]) is TextCleaner and type(steps["normalise"]) is TextNormalizer
    assert type(steps["vocabulary"]) is KnownWords and type(steps["nb"]) is LogCountRatio
    union = dict(steps["features"].transformer_list)
    assert type(union["word"]) is CompactTfidfVectorizer is type(union["char"])
    assert type(union["shape"]) is TextShape and type(union["lexicon"]) is SentimentLexicon


def test_saved_again_it_names_todays_modules(tmp_path):
    modelfile.save_model(modelfile.load_model(FILE), tmp_path / "again.skops")
    today = {name.rpartition(".")[0] for name in modelfile.TRUSTED_TYPES}
    assert recorded_modules(tmp_path / "again.skops") <= today
    assert set(sio.get_untrusted_types(file=tmp_path / "again.skops")) <= set(
        modelfile.TRUSTED_TYPES)
    again = modelfile.load_model(tmp_path / "again.skops")
    assert positive_scores(again, RECORD["texts"], RECORD["positive_label"]).tolist() == RECORD["scores"]
