"""Text analysis at predict time, with the standard library only.

This module reproduces scikit-learn's text analyzers (``CountVectorizer.build_analyzer()``)
and its MurmurHash3 (``sklearn.utils.murmurhash3_32``) without importing scikit-learn, so a
loaded model can turn documents into tokens (or hashed feature indices) itself. Everything
it needs comes from a plain configuration dict, the shape a graph stores.
"""

import re
import unicodedata

_WHITE_SPACES = re.compile(r"\s\s+")


def strip_accents_unicode(s):
    """Remove combining marks after NFKD normalisation (``strip_accents="unicode"``)."""
    try:
        s.encode("ASCII", errors="strict")
        return s
    except UnicodeEncodeError:
        normalized = unicodedata.normalize("NFKD", s)
        return "".join(c for c in normalized if not unicodedata.combining(c))


def strip_accents_ascii(s):
    """Keep the ASCII part of the NFKD normalisation (``strip_accents="ascii"``)."""
    return unicodedata.normalize("NFKD", s).encode("ASCII", "ignore").decode("ASCII")


_ACCENTS = {None: None, "ascii": strip_accents_ascii, "unicode": strip_accents_unicode}


class Analyzer:
    """A document-to-tokens function equal to scikit-learn's for the same settings.

    Parameters
    ----------
    config : dict
        ``analyzer`` ("word", "char" or "char_wb"), ``lowercase`` (bool), ``strip_accents``
        (None, "ascii" or "unicode"), ``ngram_range`` ([min_n, max_n]), ``token_pattern``
        (str, word analyzer only), ``stop_words`` (list of str or None, word analyzer only).
    """

    def __init__(self, config):
        kind = config.get("analyzer", "word")
        if kind not in ("word", "char", "char_wb"):
            raise ValueError(f"text analyzer must be 'word', 'char' or 'char_wb', got {kind!r}")
        accents = config.get("strip_accents")
        if accents not in _ACCENTS:
            raise ValueError("strip_accents must be None, 'ascii' or 'unicode', "
                             f"got {accents!r}")
        min_n, max_n = (int(v) for v in config.get("ngram_range", (1, 1)))
        if not 1 <= min_n <= max_n:
            raise ValueError(f"ngram_range must satisfy 1 <= min_n <= max_n, got "
                             f"({min_n}, {max_n})")
        self.kind = kind
        self.lowercase = bool(config.get("lowercase", True))
        self.accents = _ACCENTS[accents]
        self.min_n, self.max_n = min_n, max_n
        self.pattern = None
        self.stop_words = None
        if kind == "word":
            self.pattern = re.compile(config.get("token_pattern", r"(?u)\b\w\w+\b"))
            if self.pattern.groups > 1:
                raise ValueError("token_pattern must have at most one capturing group, "
                                 f"got {self.pattern.groups}")
            stop = config.get("stop_words")
            self.stop_words = None if stop is None else frozenset(stop)

    def preprocess(self, doc):
        if self.lowercase:
            doc = doc.lower()
        if self.accents is not None:
            doc = self.accents(doc)
        return doc

    def __call__(self, doc):
        doc = self.preprocess(doc)
        if self.kind == "word":
            return self._word_ngrams(self.pattern.findall(doc))
        if self.kind == "char":
            return self._char_ngrams(doc)
        return self._char_wb_ngrams(doc)

    def _word_ngrams(self, tokens):
        if self.stop_words is not None:
            tokens = [w for w in tokens if w not in self.stop_words]
        min_n, max_n = self.min_n, self.max_n
        if max_n == 1:
            return tokens
        original = tokens
        if min_n == 1:
            tokens = list(original)
            min_n += 1
        else:
            tokens = []
        n_original = len(original)
        for n in range(min_n, min(max_n + 1, n_original + 1)):
            for i in range(n_original - n + 1):
                tokens.append(" ".join(original[i:i + n]))
        return tokens

    def _char_ngrams(self, text):
        text = _WHITE_SPACES.sub(" ", text)
        text_len = len(text)
        min_n, max_n = self.min_n, self.max_n
        if min_n == 1:
            grams = list(text)
            min_n += 1
        else:
            grams = []
        for n in range(min_n, min(max_n + 1, text_len + 1)):
            for i in range(text_len - n + 1):
                grams.append(text[i:i + n])
        return grams

    def _char_wb_ngrams(self, text):
        text = _WHITE_SPACES.sub(" ", text)
        grams = []
        for w in text.split():
            w = " " + w + " "
            w_len = len(w)
            for n in range(self.min_n, self.max_n + 1):
                offset = 0
                grams.append(w[offset:offset + n])
                while offset + n < w_len:
                    offset += 1
                    grams.append(w[offset:offset + n])
                if offset == 0:  # a word shorter than n: counted once
                    break
        return grams


_M = 0xFFFFFFFF


def murmurhash3_32(key, seed=0):
    """MurmurHash3 x86 32-bit of ``key`` (str as UTF-8, or bytes), as a signed int32.

    Equal to ``sklearn.utils.murmurhash3_32(key, seed)`` (its default, signed result).
    """
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & _M
    n = len(data)
    nblocks = n // 4
    for i in range(nblocks):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * c1) & _M
        k = ((k << 15) | (k >> 17)) & _M
        k = (k * c2) & _M
        h ^= k
        h = ((h << 13) | (h >> 19)) & _M
        h = (h * 5 + 0xE6546B64) & _M
    tail = data[4 * nblocks:]
    k = 0
    if len(tail) >= 3:
        k ^= tail[2] << 16
    if len(tail) >= 2:
        k ^= tail[1] << 8
    if len(tail) >= 1:
        k ^= tail[0]
        k = (k * c1) & _M
        k = ((k << 15) | (k >> 17)) & _M
        k = (k * c2) & _M
        h ^= k
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h
