"""API keys: where they come from, how they are compared, and that short ones are refused."""

import pytest

from shared import guards
from shared.guards import ApiKeyError, key_matches, load_keys

KEY = "k" * 8 + "0123456789abcdef"
OTHER = "another-long-key-0123456789"


def test_keys_come_from_a_file_and_the_environment(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"# service keys\n{KEY}\n\n", encoding="utf-8")
    digests = load_keys(path, {guards.KEYS_VARIABLE: f" {OTHER}, {KEY} "})
    assert len(digests) == 2  # the same key twice counts once
    assert key_matches(KEY, digests) and key_matches(OTHER, digests)
    assert not key_matches(KEY[:-1], digests) and not key_matches("", digests)
    assert load_keys(None, {}) == ()


def test_only_digests_are_kept(tmp_path):
    digests = load_keys(None, {guards.KEYS_VARIABLE: KEY})
    assert all(KEY.encode() not in digest for digest in digests)


@pytest.mark.parametrize("content", ["short\n", "# only a comment\n", "has a space in it 1234567\n"])
def test_unusable_key_files_are_refused_without_showing_the_key(tmp_path, content):
    path = tmp_path / "keys.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ApiKeyError) as error:
        load_keys(path, {})
    assert "short" not in str(error.value).replace("shorter", "")


def test_a_missing_key_file_is_refused(tmp_path):
    with pytest.raises(ApiKeyError, match="cannot read the API key file"):
        load_keys(tmp_path / "absent.txt", {})


def test_each_key_has_a_public_name_that_is_neither_the_key_nor_its_digest():
    digests = load_keys(None, {guards.KEYS_VARIABLE: f"{KEY} {OTHER}"})
    assert guards.matching_digest(OTHER, digests) == digests[1]
    assert guards.matching_digest("not-a-key-" + "x" * 20, digests) is None
    names = {guards.key_id(KEY), guards.key_id(OTHER)}
    assert len(names) == 2 and all(len(name) == 16 for name in names)
    assert guards.key_id(KEY) == guards.key_id_of_digest(digests[0])
    assert KEY not in guards.key_id(KEY) and guards.key_id(KEY) not in digests[0].hex()
