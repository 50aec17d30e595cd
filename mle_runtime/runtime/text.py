"""Text analysis at predict time, with the standard library only.

This module reproduces scikit-learn's text analyzers (``CountVectorizer.build_analyzer()``)
and its MurmurHash3 (``sklearn.utils.murmurhash3_32``) without importing scikit-learn, so a
loaded model can turn documents into tokens (or hashed feature indices) itself. Everything
it needs comes from a plain configuration dict, the shape a graph stores.
"""

import re
import unicodedata
from itertools import chain, repeat

import numpy as np

from mle_runtime.errors import FormatError, InputError

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

    def function(self):
        """A callable equal to this analyzer, with the common word-analyzer settings (unigrams,
        no accent stripping) bound to the regular expression's ``findall`` directly."""
        if self.kind != "word" or self.max_n != 1 or self.accents is not None:
            return self
        findall = self.pattern.findall
        stop = self.stop_words
        if stop is None:
            if self.lowercase:
                return lambda doc: findall(doc.lower())
            return findall
        if self.lowercase:
            return lambda doc: [w for w in findall(doc.lower()) if w not in stop]
        return lambda doc: [w for w in findall(doc) if w not in stop]

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


# ---------------------------------------------------------------- the input rule "text"

_CHUNK = 1 << 24  # ids per native call at most (rows x width), to bound the id matrix
# Token patterns whose matches never hold a line break and whose word boundaries at a line
# break are those at the ends of a string: a batch of documents joined by line breaks around
# a marker word is tokenised by one ``findall`` (half the time of one call per document).
_JOINABLE = frozenset({r"(?u)\b\w\w+\b", r"(?u)\b\w+\b", r"\b\w\w+\b", r"\b\w+\b"})
_MARK = 0.5  # the marker word's id (no token id is a fraction)


class TextInput:
    """The input rule "text" (docs/FORMAT.md, section 9.9) of a loaded model: documents become
    a float64 matrix of token ids, one row per document padded with -1, which the graph's text
    ops read. A vocabulary's ids are its columns (terms not in it are dropped, as scikit-learn
    drops them); hashed ids are ``abs(murmurhash3_32(token)) % n_features``, written as
    ``-id - 2`` for a negative hash when the signs alternate.
    """

    def __init__(self, rule):
        try:
            self.analyzer = Analyzer(rule)
        except (ValueError, re.error) as e:  # a pattern Python's re refuses
            raise FormatError(f"graph section: inputs 'text': {e}") from None
        self._analyze = self.analyzer.function()
        self.encoding = rule.get("encoding", "utf-8")
        self.decode_error = rule.get("decode_error", "strict")
        vocab = rule.get("vocabulary")
        self.vocab = None
        self.hashing = None
        a = self.analyzer
        self._joined = (a.kind == "word" and a.max_n == 1 and a.accents is None
                        and rule.get("token_pattern") in _JOINABLE)
        if vocab is not None:
            terms, columns = vocab
            self.vocab = dict(zip(terms, map(float, columns)))
        else:
            self.hashing = (int(rule["hashing"][0]), bool(rule["hashing"][1]))
        self._marker = "zqjxmarker"
        while self.vocab is not None and self._marker in self.vocab:
            self._marker += "q"
        if self._joined and self.vocab is not None:
            # the joined path's lookup: stop words dropped (as the analyzer drops them)
            self._joined_vocab = dict(self.vocab)
            for w in a.stop_words or ():
                self._joined_vocab.pop(w, None)
            self._joined_vocab[self._marker] = _MARK
        self._reset_cache()

    def _reset_cache(self):
        """The hashed ids of tokens seen (the joined path's marker and stop words included)."""
        self._hashed = {}
        if self.hashing is not None and self._joined:
            self._joined_cache = {w: -1.0 for w in self.analyzer.stop_words or ()}
            self._joined_cache[self._marker] = _MARK

    def documents(self, X, model_name):
        """X as a list of str, refusing what scikit-learn refuses."""
        if isinstance(X, (str, bytes)):
            raise InputError("Iterable over raw text documents expected, string object "
                             "received.")
        t = type(X)
        if t.__name__ == "DataFrame" and t.__module__.startswith("pandas"):
            raise InputError(f"{model_name} takes a 1-D sequence of documents (a list, a 1-D "
                             "array or a pandas Series of str), not a DataFrame; pass its "
                             "text column")
        if hasattr(X, "tocsr") and hasattr(X, "nnz"):
            raise InputError(f"{model_name} takes documents (str), not a sparse matrix")
        if isinstance(X, np.ndarray):
            if X.ndim != 1:
                raise InputError(f"{model_name} takes a 1-D sequence of documents, got an "
                                 f"array of shape {X.shape}")
            docs = X.tolist()
        elif hasattr(X, "to_numpy"):  # a pandas Series
            docs = X.to_numpy(dtype=object).tolist()
        else:
            docs = list(X)
        if not docs:
            raise InputError(f"Found 0 documents while a minimum of 1 is required by "
                             f"{model_name}.")
        for i, d in enumerate(docs):
            if type(d) is str:
                continue
            if isinstance(d, bytes):
                docs[i] = d.decode(self.encoding, self.decode_error)
            elif isinstance(d, str):
                docs[i] = str(d)
            elif isinstance(d, float) and d != d:
                raise InputError("np.nan is an invalid document, expected byte or unicode "
                                 "string.")
            else:
                raise InputError(f"{model_name} takes documents (str or bytes); document {i} "
                                 f"is {type(d).__name__}")
        return docs

    def _tokens_to_ids(self, tokens):
        """Ids of a flat sequence of tokens (-1, i.e. padding, for a term outside the
        vocabulary: scikit-learn ignores it)."""
        if self.vocab is not None:
            return map(self.vocab.get, tokens, repeat(-1.0))
        return map(self._hashed_id, tokens)

    def _hashed_id(self, tok, cache=None):
        if cache is None:
            cache = self._hashed
        i = cache.get(tok)
        if i is None:
            n, alternate = self.hashing
            h = murmurhash3_32(tok)
            col = (2147483647 - (n - 1)) % n if h == -2147483648 else abs(h) % n
            i = float(-col - 2) if alternate and h < 0 else float(col)
            if len(cache) >= 1 << 20:
                self._reset_cache()
                cache = self._joined_cache if cache is not self._hashed else self._hashed
            cache[tok] = i
        return i

    def _joined_ids(self, docs):
        """(lengths, flat ids) of the documents tokenised in one pass, or None when a
        document holds the marker word."""
        marker = self._marker
        text = ("\n" + marker + "\n").join(docs)
        if self.analyzer.lowercase:
            text = text.lower()
        if text.count(marker) != len(docs) - 1:
            return None
        tokens = self.analyzer.pattern.findall(text)
        if self.vocab is not None:
            ids = map(self._joined_vocab.get, tokens, repeat(-1.0))
        else:
            cache = self._joined_cache
            ids = (cache[t] if t in cache else self._hashed_id(t, cache) for t in tokens)
        ids = np.fromiter(ids, dtype=np.float64, count=len(tokens))
        marks = np.flatnonzero(ids == _MARK)
        lengths = np.diff(np.concatenate([[-1], marks, [ids.shape[0]]])) - 1
        return lengths, np.delete(ids, marks)

    def _flat_ids(self, docs):
        """(ids per document, all their ids in one array)."""
        if self._joined and len(docs) > 1:
            found = self._joined_ids(docs)
            if found is not None:
                return found
        token_lists = list(map(self._analyze, docs))
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
        flat = np.fromiter(self._tokens_to_ids(chain.from_iterable(token_lists)),
                           dtype=np.float64, count=int(lengths.sum()))
        return lengths, flat

    def matrices(self, docs):
        """The id matrices of the documents, in chunks of rows of at most ``_CHUNK`` ids."""
        lengths, flat = self._flat_ids(docs)
        n = lengths.shape[0]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        step = max(1, _CHUNK // max(int(lengths.max()), 1))
        for start in range(0, n, step):
            stop = min(start + step, n)
            lens = lengths[start:stop]
            w = max(int(lens.max()), 1)
            mat = np.full((stop - start, w), -1.0)
            mat[np.arange(w) < lens[:, None]] = flat[offsets[start]:offsets[stop]]
            yield mat

    def runner(self, run, model_name):
        """``run(X, idx, threads)`` over documents X: the native run of each chunk's ids."""

        def run_text(X, idx, threads):
            docs = self.documents(X, model_name)
            parts = [run(mat, idx, threads) for mat in self.matrices(docs)]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        return run_text
