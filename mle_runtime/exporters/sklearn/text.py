"""Text vectorizers: CountVectorizer, TfidfVectorizer, HashingVectorizer and a TfidfTransformer
after one of them, as the first step (alone, or before a linear model).

The documents are tokenised on the input, in Python (``mle_runtime.runtime.text``: the
analyzer's settings and the vocabulary are the input rule "text", docs/FORMAT.md 9.9), into
a matrix of token ids; the graph computes from it: ``TextCounts`` (the dense rows of the
vectorizer's transform) or, when only a linear model reads them, ``TextLinear`` (the sparse
tf-idf rows times the model's weights, fused by :func:`fuse`).
"""

import re

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

VECTORIZERS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")

# vocabulary_ is left out: the input rule holds it already, and a second copy would double
# the size of a text model's file.
ATTRIBUTES = {
    "CountVectorizer": ("fixed_vocabulary_",),
    "TfidfVectorizer": ("fixed_vocabulary_", "idf_"),
    "HashingVectorizer": (),
    "TfidfTransformer": ("n_features_in_", "idf_"),
}

def _analyzer_rule(est):
    """The input rule "text" minus the vocabulary: the analyzer's settings, refusing what
    cannot be stored (callables, file input)."""
    name = type(est).__name__
    for param in ("preprocessor", "tokenizer"):
        fn = getattr(est, param)
        if fn is not None:
            raise UnsupportedModelError(
                f"{name}({param}={fn!r}): a custom {param} callable is Python code, which a "
                f"model file does not store; use the built-in {param} (token_pattern, "
                "lowercase, strip_accents) or transform the documents before predicting")
    if callable(est.analyzer):
        raise UnsupportedModelError(
            f"{name}(analyzer={est.analyzer!r}): a custom analyzer callable is Python code, "
            "which a model file does not store; supported: 'word', 'char', 'char_wb'")
    if callable(est.strip_accents):
        raise UnsupportedModelError(
            f"{name}(strip_accents={est.strip_accents!r}): a callable is Python code, which a "
            "model file does not store; supported: None, 'ascii', 'unicode'")
    if est.input != "content":
        raise UnsupportedModelError(
            f"{name}(input={est.input!r}): reading documents from files is not supported; "
            "supported: input='content' (pass the documents' text)")
    word = est.analyzer == "word"
    stop = est.get_stop_words() if word else None
    min_n, max_n = (int(v) for v in est.ngram_range)
    rule = {
        "analyzer": str(est.analyzer), "lowercase": bool(est.lowercase),
        "strip_accents": est.strip_accents, "ngram_range": [min_n, max_n],
        "token_pattern": str(est.token_pattern) if word else None,
        "stop_words": sorted(str(w) for w in stop) if stop is not None else None,
        "encoding": str(est.encoding), "decode_error": str(est.decode_error),
    }
    if word and re.compile(rule["token_pattern"]).groups > 1:
        raise UnsupportedModelError(f"{name}: token_pattern has more than one capturing group")
    return rule


def refuse_later_vectorizer(leaves):
    """Refuses a model holding a text vectorizer that is not its first step (it would read
    what an earlier step produced), or several of them; ``leaves``: the model's steps."""
    found = [type(e).__name__ for e in _nested(leaves) if type(e).__name__ in VECTORIZERS]
    if len(found) > 1:
        raise UnsupportedModelError(_SEVERAL.format(found[0]))
    if found:
        raise UnsupportedModelError(_FIRST.format(found[0]))


def _nested(estimators):
    """The estimators, and those inside Pipelines, FeatureUnions and ColumnTransformers."""
    for est in estimators:
        yield est
        inner = []
        for attr in ("steps", "transformer_list", "transformers"):
            for entry in getattr(est, attr, None) or ():
                if isinstance(entry, tuple) and len(entry) >= 2:
                    inner.append(entry[1])
        yield from _nested([e for e in inner if hasattr(e, "get_params")])


_SEVERAL = ("{}: a model with more than one text vectorizer (a FeatureUnion of them, for "
            "example) is not supported; the documents are tokenised once, by one analyzer")
_FIRST = ("{} must be the model's first step (it reads the documents, which are tokenised on "
          "the input), not after another step or inside a ColumnTransformer; supported: the "
          "vectorizer alone or a Pipeline starting with it")


def _check_first(est, ctx, x):
    if "text" in ctx.graph.inputs:
        raise UnsupportedModelError(_SEVERAL.format(type(est).__name__))
    if x != "X":
        raise UnsupportedModelError(_FIRST.format(type(est).__name__))


def _vectorizer(est, ctx, x):
    """Adds the TextCounts node of a vectorizer; returns (value, transform dtype)."""
    _check_first(est, ctx, x)
    name = type(est).__name__
    rule = _analyzer_rule(est)
    g = ctx.graph
    dtype = np.dtype(est.dtype)
    if dtype.kind not in "iuf" or dtype.itemsize < 4:
        raise UnsupportedModelError(f"{name}(dtype={dtype}) is not supported; supported: "
                                    "int32, int64, uint32, uint64, float32, float64")
    attrs = {}
    if name == "HashingVectorizer":
        n = int(est.n_features)
        rule["hashing"] = [n, bool(est.alternate_sign)]
        attrs["signed"] = True if est.alternate_sign else None
        norm = est.norm
        integer = False
        if dtype.kind != "f":
            raise UnsupportedModelError(f"{name}(dtype={dtype}) is not supported; supported: "
                                        "float32, float64")
    else:
        vocab = est.vocabulary_
        if not all(isinstance(t, str) for t in vocab):
            raise UnsupportedModelError(f"{name}.vocabulary_ holds terms that are not strings")
        terms = sorted(vocab)
        n = len(terms)
        rule["vocabulary"] = [terms, [int(vocab[t]) for t in terms]]
        norm = None
        integer = dtype.kind in "iu"
    if name == "TfidfVectorizer":
        integer = False
        norm = est.norm
        attrs["sublinear_tf"] = True if est.sublinear_tf else None
        if est.use_idf:
            attrs["idf"] = g.tensor(as_float64(est.idf_, f"{name}.idf_"), "float64")
    if norm not in (None, "l1", "l2"):
        raise UnsupportedModelError(f"{name}(norm={norm!r}) is not supported; supported: "
                                    "'l1', 'l2', None")
    if dtype == np.float32:
        _float32_without_log(name, attrs.get("sublinear_tf"))
        attrs["float32"] = True  # each step rounded to float32, as scikit-learn computes
    g.inputs["text"] = rule
    ctx.nan_possible = False  # counts and tf-idf values are never NaN
    v = g.add("TextCounts", [x], n_features=n, binary=True if est.binary else None,
              norm=norm, integer=True if integer else None, **attrs)
    return v, dtype


@register(*VECTORIZERS, kind="transformer")
def vectorizer_transformer(est, ctx, x):
    return _vectorizer(est, ctx, x)[0]


@register(*VECTORIZERS, kind="predictor")
def vectorizer_alone(est, ctx, x):
    """The vectorizer as the model's last step: transform returns the dense rows, in the
    vectorizer's dtype (scikit-learn returns them sparse)."""
    v, dtype = _vectorizer(est, ctx, x)
    dtypes = None if dtype in (np.dtype(np.int64), np.dtype(np.float64)) else {
        "transform": dtype.name}
    return Head({"transform": (v, False)}, "transformer", dtypes=dtypes)


def _float32_without_log(name, sublinear):
    if sublinear:
        raise UnsupportedModelError(
            f"{name} with float32 data and sublinear_tf=True is not supported: numpy's "
            "float32 log is not correctly rounded, so its tf values cannot be reproduced "
            "exactly; supported: dtype=float64, or sublinear_tf=False")


def _counts_node(ctx, x):
    for node in ctx.graph.nodes:
        if node.output == x and node.op == "TextCounts":
            return node
    return None


@register("TfidfTransformer", kind="transformer")
def tfidf_transformer(est, ctx, x):
    node = _counts_node(ctx, x)
    if est.norm not in (None, "l1", "l2"):
        raise UnsupportedModelError(f"TfidfTransformer(norm={est.norm!r}) is not supported; "
                                    "supported: 'l1', 'l2', None")
    if node is None and not any(n.output == x and n.op in ("TextCounts", "TextLinear")
                                for n in ctx.graph.nodes):
        return _tfidf_rows(est, ctx, x)
    a = node.attrs if node is not None else {}
    if node is None or a.get("norm") or "idf" in a or a.get("sublinear_tf"):
        raise UnsupportedModelError(
            "TfidfTransformer is supported right after a CountVectorizer, or a "
            "HashingVectorizer with norm=None, in a Pipeline (it then reads the documents' "
            "counts); its input here is not such counts")
    a.pop("integer", None)
    if a.get("float32"):  # float32 counts stay float32 (and so does the fitted idf_)
        _float32_without_log("TfidfTransformer", est.sublinear_tf)
    if est.norm:
        a["norm"] = est.norm
    if est.sublinear_tf:
        a["sublinear_tf"] = True
    if est.use_idf:
        idf = as_float64(est.idf_, "TfidfTransformer.idf_")
        if idf.shape != (int(a["n_features"]),):
            raise UnsupportedModelError(
                f"TfidfTransformer.idf_ has {idf.shape[0]} entries for "
                f"{a['n_features']} features")
        a["idf"] = ctx.graph.tensor(idf, "float64")
    return x


def _tfidf_rows(est, ctx, x):
    """TfidfTransformer on numbers (its input is not a vectorizer's counts): the non-zero
    entries of each row weighed as scikit-learn weighs its sparse rows."""
    ctx.refuses_nan(est)  # scikit-learn's validate_data refuses NaN and infinity
    idf = None
    if est.use_idf:
        idf = ctx.graph.tensor(as_float64(est.idf_, "TfidfTransformer.idf_"), "float64")
    return ctx.graph.add("TfidfRows", [x], sublinear_tf=True if est.sublinear_tf else None,
                         idf=idf, norm=est.norm)


@register("TfidfTransformer", kind="predictor")
def tfidf_alone(est, ctx, x):
    return Head({"transform": (tfidf_transformer(est, ctx, x), False)}, "transformer")


def fuse(graph, outputs):
    """Replaces a TextCounts node read only by one ``Linear`` node (a linear model after the
    vectorizer), and not an output, by one ``TextLinear`` node computing the same product from
    the sparse rows. ``outputs``: the values the model returns."""
    returned = set(outputs)
    nodes = graph.nodes
    for i, node in enumerate(list(nodes)):
        if node.op != "TextCounts":
            continue
        readers = [k for k, n in enumerate(nodes) if node.output in n.inputs]
        if node.attrs.get("float32"):
            for k in readers:
                w = nodes[k].attrs.get("weight") if nodes[k].op == "Linear" else None
                if w is not None and np.array_equal(graph.tensors[w].astype(np.float32),
                                                    graph.tensors[w]):
                    raise UnsupportedModelError(
                        "a linear model with float32 coefficients after a float32 text "
                        "vectorizer is not supported (scipy sums its products in float32); "
                        "fit it on float64 features (the vectorizer's dtype=float64)")
        if any(nodes[k].attrs.get("follow_input_dtype") for k in readers):
            raise UnsupportedModelError(
                "a linear model with float32 coefficients after a text vectorizer is not "
                "supported (its decision values would be float32); fit it on float64 features")
        if readers:  # steps after the vectorizer take float64 counts (as scipy converts them)
            node.attrs.pop("integer", None)
        if node.output in returned or len(readers) != 1 or nodes[readers[0]].op != "Linear":
            continue
        lin = nodes[readers[0]]
        attrs = dict(node.attrs, weight=lin.attrs["weight"])
        if "bias" in lin.attrs:
            attrs["bias"] = lin.attrs["bias"]
        fused = graph.add("TextLinear", list(node.inputs), **attrs)
        new = nodes.pop()  # graph.add appended it: it replaces the Linear node, same output
        new.output = lin.output
        nodes[readers[0]] = new
        nodes.pop(i)
        del fused
