"""The sentence encoder: BERT's tokenizer, the pinned files, and vectors that mean
something and do not depend on the texts encoded beside them."""

import hashlib
import json
import struct

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from shared.model import minilm

# token ids given by Hugging Face's `tokenizers` (0.23.3) with the package's tokenizer.json
TOKENIZED = {
    "Café naïve RÉSUMÉ!": [101, 7668, 15743, 13746, 999, 102],
    "I didn't like it... at ALL": [101, 1045, 2134, 1005, 1056, 2066, 2009, 1012, 1012, 1012,
                                   2012, 2035, 102],
    "xxname loved it": [101, 22038, 18442, 3866, 2009, 102],
    "中文 ok": [101, 1746, 1861, 7929, 102],
    "a\u200bb\tc\xa0d": [101, 11113, 1039, 1040, 102],
    "supercalifragilisticexpialidocious": [101, 3565, 9289, 10128, 29181, 24411, 4588, 10288,
                                           19312, 21273, 10085, 6313, 102],
    "x" * 101: [101, 100, 102],
    "good\ue000 film": [101, 2204, 2143, 102],  # a private-use character is dropped
    "$$$ FR3E iPh0ne :-)": [101, 1002, 1002, 1002, 10424, 2509, 2063, 12997, 2232, 2692, 2638,
                            1024, 1011, 1007, 102],
}


@pytest.fixture(scope="module")
def encoder():
    return minilm.encoder()


@pytest.mark.parametrize("text", list(TOKENIZED))
def test_the_tokenizer_gives_bert_s_own_ids(encoder, text):
    assert encoder.tokenize(text) == TOKENIZED[text]


def test_a_long_text_is_cut_at_the_encoder_s_limit(encoder):
    ids = encoder.tokenize("word " * 400)
    assert len(ids) == minilm.MAX_TOKENS and ids[0] == 101 and ids[-1] == 102


def test_vectors_are_unit_length_and_texts_of_like_meaning_are_near(encoder):
    loved, wonderful, parcel = encoder.encode(
        ["I loved this film.", "What a wonderful movie!", "The parcel arrived late."])
    assert np.allclose([np.linalg.norm(v) for v in (loved, wonderful, parcel)], 1, atol=1e-5)
    assert loved @ wonderful > 0.5 > loved @ parcel


def test_a_text_gets_the_same_bits_alone_in_any_batch_and_on_any_number_of_threads(encoder):
    texts = ["Great.", "Not good at all, sadly.", "The plot was thin but the acting was fine.",
             "Awful!", "Fine.", "I would watch it again with my family tonight."]
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert np.array_equal(encoder.encode(texts), alone)
    assert np.array_equal(encoder.encode(texts[::-1])[::-1], alone)
    assert np.array_equal(encoder.encode(texts, threads=2), alone)
    with threadpool_limits(1):
        assert np.array_equal(encoder.encode(texts), alone)


def test_a_changed_file_is_refused_naming_it(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n")
    with pytest.raises(minilm.EncoderFilesError, match="vocab.txt has SHA-256 .* reinstall"):
        minilm._checked(vocab)
    with pytest.raises(minilm.EncoderFilesError, match="model.safetensors is missing"):
        minilm._checked(tmp_path / "model.safetensors")


def test_the_pinned_files_are_the_installed_ones():
    for name, sha in minilm.FILES.items():
        assert hashlib.sha256((minilm.model_dir() / name).read_bytes()).hexdigest() == sha


def test_safetensors_are_read_by_name_type_and_shape():
    weights = np.arange(6, dtype="<f4").reshape(2, 3)
    ids = np.arange(2, dtype="<i8")
    header = {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "ids": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
              "__metadata__": {"format": "pt"}}
    encoded = json.dumps(header).encode()
    data = struct.pack("<Q", len(encoded)) + encoded + weights.tobytes() + ids.tobytes()
    read = minilm.read_safetensors(data)
    assert list(read) == ["w"] and np.array_equal(read["w"], weights)
