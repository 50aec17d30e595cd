"""Categorical splits follow the category rule's aspects exactly as docs/FORMAT.md 11.2 states
them, for every combination; files written before version 1.3, which name the rule
(``category_rule``), load with the same predictions as the aspects it maps to.

The files are built here: one tree whose root is a categorical split, through ``ir.trees``,
then edited as JSON where a test needs what the writer no longer writes.
"""

import itertools
import math

import numpy as np
import pytest

from mle_runtime import FormatError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from mle_runtime.ir.trees import CategoryRule, Tree, add_ensemble

# float32 casts of values beyond its range are part of the cases (they give infinity)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

IN_SET = {0, 3, 200}
KNOWN = {0, 1, 2, 3, 5, 200}
X_VALUES = [math.nan, -math.inf, -1e300, -2.0, -1.0, -0.999, -0.5, -0.0, 0.0, 0.7, 1.0, 2.0,
            3.0, 3.9, 5.0, 200.0, 255.0, 256.0, 259.0, 456.0, 2.0**24 - 1, 2.0**24, 2.0**24 + 1,
            2.0**31 - 1, 2.0**31, 2.0**32 - 1, 2.0**32, 2.0**32 + 3, 1e300, math.inf]
LEGACY = {
    "hist_gradient_boosting": CategoryRule("truncate_uint8", "default", "default", "left", True),
    "xgboost": CategoryRule("float32_truncate", "default", "not_in_set", "right", False),
    "lightgbm": CategoryRule("truncate_int32", "not_in_set", "not_in_set", "left", False),
}
RULES = [CategoryRule(*aspects) for aspects in itertools.product(
    ("truncate_uint8", "float32_truncate", "truncate_int32"), ("default", "not_in_set"),
    ("default", "not_in_set"), ("left", "right"), (False, True))]


def bitset(categories):
    words = np.zeros(8, dtype=np.uint32)
    for c in categories:
        words[c // 32] |= np.uint32(1 << (c % 32))
    return words


def goes_left(x, rule, default_left, known_set):
    """docs/FORMAT.md 11.2, written out."""
    not_in_set = rule.in_set == "right"  # a category outside the set goes to the other side
    if rule.cast == "float32_truncate":
        x = float(np.float32(x))
    if math.isnan(x):
        return default_left if rule.nan == "default" else not_in_set
    valid = {"truncate_uint8": 0 <= x < 2**32, "float32_truncate": 0 <= x < 2**24,
             "truncate_int32": -1 < x < 2**31}[rule.cast]
    if not valid:
        return default_left if rule.invalid == "default" else not_in_set
    g = int(x) & 0xFF if rule.cast == "truncate_uint8" else int(x)
    if g in IN_SET:
        return rule.in_set == "left"
    if rule.known_sets and known_set and g not in KNOWN:
        return default_left
    return not_in_set


def ensemble(rule, *, default_left, known_set, wide=True):
    """Graph of one tree: root = categorical split on feature 0 (set 0, known set 1 when
    ``known_set``); its left leaf is 1.0, its right leaf 2.0."""
    g = Graph("HistGradientBoostingRegressor", 1)
    g.allow_nan = g.allow_inf = True
    tree = Tree(left=np.array([1, -1, -1]), right=np.array([2, -1, -1]),
                feature=np.zeros(3, dtype=int), threshold=np.zeros(3),
                leaf_value=np.array([[0.0], [1.0], [2.0]]),
                default_left=np.array([default_left, False, False]),
                categorical=np.array([True, False, False]), cat_left=np.zeros(3, dtype=int),
                cat_known=np.full(3, 1 if known_set else -1))
    out = add_ensemble(g, "X", [tree], n_features=1, wide=wide, compare="<=", aggregate="sum",
                       category_sets=[bitset(IN_SET), bitset(KNOWN)], category_rule=rule)
    g.output("predict", out, ravel=True)
    return g


def predict(g, dtype=np.float64):
    m = _native.load_buffer(writer.encode({}, g))
    X = np.array(X_VALUES, dtype=dtype).reshape(-1, 1)
    return m.run(X, 0).ravel(), X.astype(np.float64).ravel()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: "-".join(map(str, vars(r).values())))
@pytest.mark.parametrize("default_left", [False, True])
def test_every_rule_follows_the_specification(rule, default_left):
    for known_set, wide, dtype in [(True, True, np.float64), (False, True, np.float64),
                                   (True, True, np.float32), (False, False, np.float64)]:
        got, xs = predict(ensemble(rule, default_left=default_left, known_set=known_set,
                                   wide=wide), dtype)
        expected = [1.0 if goes_left(x, rule, default_left, known_set) else 2.0 for x in xs]
        bad = [(x, g, e) for x, g, e in zip(xs, got, expected) if g != e]
        assert not bad, (known_set, wide, dtype, bad)


def legacy(g, name):
    """The graph as files before version 1.3 carry the rule: by name."""
    attrs = g.nodes[-1].attrs
    for key in list(attrs):
        if key.startswith("category_"):
            del attrs[key]
    attrs["category_rule"] = name
    return g


@pytest.mark.parametrize("name", sorted(LEGACY))
@pytest.mark.parametrize("default_left", [False, True])
def test_rule_names_of_earlier_files_load_as_their_aspects(name, default_left):
    for known_set in (False, True):
        new = predict(ensemble(LEGACY[name], default_left=default_left, known_set=known_set))[0]
        old_graph = legacy(ensemble(LEGACY[name], default_left=default_left,
                                    known_set=known_set), name)
        assert "category_cast" not in writer.encode_json(old_graph.to_json(
            writer.pack_tensors(old_graph.tensors)[1])).decode()
        np.testing.assert_array_equal(predict(old_graph)[0], new)


def test_a_real_hist_gradient_boosting_file_of_the_old_form_loads(tmp_path):
    """A HistGradientBoosting model with categorical splits, dumped, then rewritten the way
    version 1.2 wrote it (category_rule="hist_gradient_boosting"): the same predictions."""
    import mle_runtime as mle
    from mle_runtime.format import container
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 12, 400), rng.normal(size=400)]).astype(float)
    y = np.where(np.isin(X[:, 0], [1, 4, 7]), 3.0, -1.0) + X[:, 1]
    model = HistGradientBoostingRegressor(categorical_features=[0], max_iter=20,
                                          random_state=0).fit(X, y)
    path = tmp_path / "new.mle"
    mle.dump(model, path)
    c = container.parse(path.read_bytes(), verify=())
    graph = c.json(L.SECTION_GRAPH)
    ens = next(n for n in graph["nodes"] if n[0] == "TreeEnsemble")[3]
    assert ens["category_cast"] == "truncate_uint8" and "category_rule" not in ens
    for key in [k for k in ens if k.startswith("category_")]:
        del ens[key]
    ens["category_rule"] = "hist_gradient_boosting"
    old = tmp_path / "old.mle"
    old.write_bytes(container.repack(c, replace={L.SECTION_GRAPH: writer.encode_json(graph)}))
    Xt = np.vstack([X[:50], [[np.nan, 0.0], [-1.0, 0.5], [40.0, 0.0], [300.0, 1.0]]])
    expected = model.predict(Xt)
    np.testing.assert_array_equal(mle.load(path).predict(Xt), expected)
    np.testing.assert_array_equal(mle.load(old).predict(Xt), expected)


def test_a_rule_name_and_aspects_together_are_refused():
    g = ensemble(LEGACY["xgboost"], default_left=False, known_set=False)
    g.nodes[-1].attrs["category_rule"] = "xgboost"
    with pytest.raises(FormatError, match="'category_rule'.*and 'category_cast' cannot both"):
        _native.load_buffer(writer.encode({}, g))


@pytest.mark.parametrize("missing", ["category_cast", "category_nan", "category_invalid",
                                     "category_set"])
def test_categorical_nodes_need_every_aspect(missing):
    g = ensemble(LEGACY["lightgbm"], default_left=False, known_set=False)
    del g.nodes[-1].attrs[missing]
    with pytest.raises(FormatError, match=f"'{missing}' must be a string"):
        _native.load_buffer(writer.encode({}, g))


def test_a_rule_without_sets_is_refused_at_dump():
    g = Graph("m", 1)
    tree = Tree(left=np.array([1, -1, -1]), right=np.array([2, -1, -1]),
                feature=np.zeros(3, dtype=int), threshold=np.zeros(3),
                leaf_value=np.array([[0.0], [1.0], [2.0]]),
                categorical=np.array([True, False, False]), cat_left=np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="CategoryRule"):
        add_ensemble(g, "X", [tree], n_features=1, wide=True, compare="<=", aggregate="sum",
                     category_sets=[bitset(IN_SET)], category_rule="hist_gradient_boosting")
    with pytest.raises(ValueError, match="'category_set' must be one of 'left', 'right'"):
        add_ensemble(g, "X", [tree], n_features=1, wide=True, compare="<=", aggregate="sum",
                     category_sets=[bitset(IN_SET)],
                     category_rule=CategoryRule("truncate_uint8", "default", "default", "up"))
