"""Parity of the standard-library text analysis (mle_runtime.runtime.text) with scikit-learn."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.utils import murmurhash3_32 as sk_murmur

from mle_runtime.runtime.text import Analyzer, murmurhash3_32

WORDS = ["Café", "naïve", "résumé", "über", "Straße", "hello", "WORLD", "data", "the", "a",
         "x1", "42", "3.14", "foo_bar", "don't", "e-mail", "ÅNGSTRÖM", "ﬁne", "Ⅻ", "中文",
         "  ", "\t", "!!", "and", "of", "ml"]


def _texts(n=300, seed=0):
    rng = np.random.RandomState(seed)
    out = ["", " ", "a", "Hello,   World!!  ", "Ünïcödé\tand\n\nspaces"]
    for _ in range(n):
        k = rng.randint(0, 15)
        sep = rng.choice([" ", "  ", ", ", "\n", "-", ".", "\t "])
        out.append(sep.join(rng.choice(WORDS, k)))
    return out


CONFIGS = [
    {},
    {"lowercase": False},
    {"strip_accents": "ascii"},
    {"strip_accents": "unicode", "ngram_range": (1, 3)},
    {"ngram_range": (2, 2), "stop_words": "english"},
    {"token_pattern": r"(?u)\b\w+\b", "stop_words": ["the", "a", "of"]},
    {"token_pattern": r"(\w)\w*"},
    {"analyzer": "char", "ngram_range": (1, 3)},
    {"analyzer": "char", "ngram_range": (2, 4), "strip_accents": "unicode"},
    {"analyzer": "char_wb", "ngram_range": (1, 1)},
    {"analyzer": "char_wb", "ngram_range": (2, 5), "lowercase": False},
]


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_analyzer_matches_scikit_learn(params):
    vec = CountVectorizer(**params)
    sk = vec.build_analyzer()
    stop = vec.get_stop_words()
    ours = Analyzer({
        "analyzer": vec.analyzer, "lowercase": vec.lowercase,
        "strip_accents": vec.strip_accents, "ngram_range": list(vec.ngram_range),
        "token_pattern": vec.token_pattern,
        "stop_words": None if stop is None else sorted(stop),
    })
    for doc in _texts():
        assert ours(doc) == sk(doc), doc


def test_analyzer_refuses_bad_settings():
    with pytest.raises(ValueError, match="capturing group"):
        Analyzer({"token_pattern": r"(a)(b)"})
    with pytest.raises(ValueError, match="analyzer"):
        Analyzer({"analyzer": "sentence"})
    with pytest.raises(ValueError, match="ngram_range"):
        Analyzer({"ngram_range": [2, 1]})
    with pytest.raises(ValueError, match="strip_accents"):
        Analyzer({"strip_accents": "latin"})


def test_murmurhash_matches_scikit_learn():
    keys = ["", "a", "ab", "abc", "abcd", "abcde", "Café", "中文字符", "x=1"] + _texts(200, 1)
    keys += sorted(ENGLISH_STOP_WORDS)
    for key in keys:
        assert murmurhash3_32(key) == sk_murmur(key, seed=0), key
        assert murmurhash3_32(key, seed=7) == sk_murmur(key, seed=7), key
    assert murmurhash3_32(b"bytes") == sk_murmur(b"bytes", seed=0)
