"""Model files: skops (never pickle), byte-for-byte reproducible, and loaded only if trusted.

A model file is loaded only when every type it contains is either one skops
trusts by default or one of the components listed in ``TRUSTED_TYPES``. (A
deployed model is also checked against its manifest first: ``shared.core.manifest``.)
Files written before the modules were grouped into wings keep loading: see
:func:`flat_names`.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio
from skops.io.exceptions import UntrustedTypesFoundException

from shared.core import storage

#: the only types beyond skops' defaults that a model file may contain, each by name:
#: this project's own components, and scikit-learn internals that calibration and
#: random forests are made of but that skops' default list leaves out. Listed by hand, on
#: purpose: one list to audit, and nothing trusted because of where it is defined or what
#: imported it. A new component (a feature group: docs/adding_a_feature.md) is added here;
#: tests/model/test_training.py fails, naming it, until it is.
TRUSTED_TYPES: tuple[str, ...] = (
    "shared.model.text.TextCleaner",
    "shared.model.text.TextNormalizer",
    "shared.model.features.CompactTfidfVectorizer",
    "shared.model.features.LogCountRatio",
    "shared.model.features.TextShape",
    "shared.model.features.SentimentLexicon",
    "shared.model.embedding.SentenceEmbedding",
    "shared.model.known_words.KnownWords",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.tree._tree.Tree",
)

_MEMBER = re.compile(r'"([^"/]+\.npy)"')
_OBJECT_ID = re.compile(r'"__id__": (\d+)')
# sklearn's vectorizers remember id(stop_words), a memory address that differs in every
# process and means nothing once loaded elsewhere; it only decides whether to re-check them.
_STOP_WORDS_ID = re.compile(r'("_stop_words_id": \{[^{}]*?"content": ")\d+')


class UntrustedModelError(RuntimeError):
    """The model file holds types nobody vouched for; it is not loaded."""


class CorruptModelError(UntrustedModelError):
    """The model file is not a readable skops archive; nothing in it can be vouched for."""


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` with skops, atomically, as a byte-for-byte reproducible file."""
    buffer = io.BytesIO()
    sio.dump(model, buffer)
    return storage.write_bytes(path, canonical_skops(buffer.getvalue()))


def canonical_skops(data: bytes) -> bytes:
    """The same skops archive with deterministic member names and timestamps.

    skops names array members and memo keys after ``id()`` of the objects and
    stamps the current time, so two dumps of one model differ. Renumbering both
    in order of first mention in the schema (a one-to-one renaming, so shared
    references stay shared) and fixing the timestamps makes the file's
    SHA-256 a content hash: the same model always gets the same version.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = source.read("schema.json").decode("utf-8")
    members = set(source.namelist()) - {"schema.json"}
    first_mention: dict[str, int] = {}
    for match in _MEMBER.finditer(schema):  # one pass over the schema, not one per member
        if match.group(1) in members:
            first_mention.setdefault(match.group(1), match.start())
    order = sorted(members, key=lambda n: (first_mention.get(n, -1), n))
    renamed = {old: f"{i:05d}{Path(old).suffix}" for i, old in enumerate(order)}
    schema = _MEMBER.sub(lambda m: f'"{renamed.get(m.group(1), m.group(1))}"', schema)
    schema = _STOP_WORDS_ID.sub(r"\g<1>0", schema)
    ids: dict[str, int] = {}
    schema = _OBJECT_ID.sub(
        lambda m: f'"__id__": {ids.setdefault(m.group(1), len(ids) + 1)}', schema
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, payload in [("schema.json", schema.encode("utf-8"))] + [
            (renamed[old], source.read(old)) for old in order
        ]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, payload)
    return out.getvalue()


def flat_names() -> dict[str, str]:
    """The name each module holding a trusted type had in the flat layout -> its name now.

    skops records a type by the name of its module, and imports that module to build it.
    Model files written before the modules were grouped into wings (issue 21) record this
    project's types as ``shared.<module>.<Class>``, with no wing in between. The loader
    registers each such flat name as another name of the module that holds the type now
    (:func:`_register_flat_names`) and trusts the types under both names, so an old file
    loads as today's classes: nothing is converted, and the file and its hash stay as they
    were. Empty while no trusted type sits in a wing.
    """
    modules = {name.rpartition(".")[0] for name in TRUSTED_TYPES}
    return {f"shared.{module.rpartition('.')[2]}": module for module in modules
            if module.startswith("shared.") and module.count(".") > 1}


def _trusted() -> list[str]:
    """TRUSTED_TYPES, and each of this project's under its flat name too (:func:`flat_names`)."""
    flat = {module: old for old, module in flat_names().items()}
    return [*TRUSTED_TYPES, *(f"{flat[module]}.{cls}" for module, _, cls
                              in (name.rpartition(".") for name in TRUSTED_TYPES)
                              if module in flat)]


def _register_flat_names() -> None:
    """Make each flat module name of :func:`flat_names` import the module it names today.

    Only the modules of trusted types get a second name (``sys.modules``), and only where
    that name is free: a file naming anything else still fails to load.
    """
    for old, module in flat_names().items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(module)


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a skops file, refusing any type outside skops' defaults and TRUSTED_TYPES.

    The file is read once: skops audits every type before it builds anything,
    and its refusal is turned into an error that names the untrusted types. A file
    written before the wings loads too (:func:`flat_names`).
    """
    path = Path(path)
    trusted = _trusted()
    _register_flat_names()
    try:
        return sio.load(path, trusted=trusted)
    except UntrustedTypesFoundException:
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
        raise UntrustedModelError(
            f"{path.name} contains types that are not trusted: {', '.join(untrusted)}. "
            "Only scikit-learn types and shared.core.modelfile.TRUSTED_TYPES are loaded; "
            "retrain the model with the project's own components."
        ) from None
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise CorruptModelError(
            f"{path.name} is not a readable skops archive ({error}); re-run the stage that "
            "writes it"
        ) from None
