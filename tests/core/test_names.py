"""Name lists, the held-out split and gender swaps."""

import json

import numpy as np
import pytest

from shared.core import names


def test_blinding_names_exclude_english_words_and_the_held_out_names():
    blinded = names.blinding_names()
    assert {"aisha", "mohammed", "fatima", "priya"} <= blinded
    assert not {"will", "grace", "mark", "joy", "rich", "bill"} & blinded
    held = {n.lower() for n in names.check_names()}
    assert held and not held & blinded
    assert all(names.held_out(n) for n in held)


def test_the_word_list_is_read_as_plain_data_only():
    words = names.web2_words()
    assert "grace" in words and "Jessica" in words and len(words) > 200_000


def test_the_lists_are_read_from_the_packages_once_then_from_a_checked_copy(monkeypatch,
                                                                               tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    read = names._word_lists.__wrapped__
    packages = read()
    (copy,) = (tmp_path / "ml-workflow").glob("word-lists-*.json")
    assert read() == packages and len(packages["faker"]) > 20_000
    monkeypatch.setattr(names, "_read_faker", lambda: pytest.fail("the copy was not used"))
    assert read()["faker"] == packages["faker"]
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for damaged in ('{"web2": ["a"], "faker": [1]}', '{"web2": [], "faker": []}',
                    '["web2", "faker"]', "null", "{not json"):
        copy.write_text(damaged, encoding="utf-8")
        assert read() == packages, damaged
        assert json.loads(copy.read_text(encoding="utf-8")) == packages  # rewritten


def test_without_a_cache_folder_the_lists_come_from_the_packages(monkeypatch):
    def no_home() -> None:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr("pathlib.Path.home", staticmethod(no_home))
    assert len(names._word_lists.__wrapped__()["faker"]) > 20_000


def test_gender_swap_keeps_case_and_says_when_nothing_changed():
    assert names.gender_swap("My husband said HE loved it") == "My wife said SHE loved it"
    assert names.gender_swap("Her son") == "His daughter"
    assert names.gender_swap("no gendered word") is None
    assert names.feminine("The waiter and my nephew") == "The waitress and my niece"
    assert not set(names.HELD_OUT_PAIRS) & set(names.AUGMENTED_PAIRS)


def test_augmentation_extends_training_parts_with_their_own_copies():
    texts, labels, splits = names.gender_augmented(
        ["he was great", "nice", "my wife hated it"], np.array(["p", "p", "n"]),
        [(np.array([0, 1]), np.array([2])), (np.array([1, 2]), np.array([0]))])
    assert texts[3:] == ["she was great", "my husband hated it"]
    assert list(labels) == ["p", "p", "n", "p", "n"]
    assert [list(train) for train, _ in splits] == [[0, 1, 3], [1, 2, 4]]
    assert [list(valid) for _, valid in splits] == [[2], [0]]
