"""Hostile tree-ensemble files: every index the tree kernel follows is checked at load.

Each test takes a valid dumped model, finds its TreeEnsemble node and tensors through the
graph JSON (the section of kind 2; tensors are ``[offset, dtype, shape]`` records into the
section of kind 3), edits the packed node records (``TREE_NODE32_DTYPE`` /
``TREE_NODE64_DTYPE``), the roots, the category-set tables or the tensor table, and
re-packs the file with valid checksums (``writer.pack_sections``). The checksums being right,
only plan validation stands between the edit and the kernel: ``mle.load`` must raise
``FormatError``. After each refusal a pristine copy must still load and predict as before.

Categorical splits: the brief for this file predates categorical support and asked that the
categorical flag raise UnsupportedModelError. HistGradientBoosting's categorical splits are now
implemented (category sets in ``cat_offsets`` / ``cat_words``), so a categorical node in an
ensemble without those tables is a malformed file (FormatError), and so is an unknown category
rule (its aspects and the names of earlier files are listed in the op's schema).
"""

import json
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.tree import DecisionTreeRegressor

import mle_runtime as mle
from mle_runtime import FormatError, UnsupportedModelError
from mle_runtime.format import layout as L
from mle_runtime.format import writer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

UNKNOWN_FLAG_BITS = (1 << 24, 1 << 25, 1 << 26)
KNOWN_FLAG_BITS = (L.TREE_LEAF | L.TREE_DEFAULT_LEFT | L.TREE_CATEGORICAL
                   | (3 << L.TREE_MISSING_SHIFT))


# ----------------------------------------------------------------------------- file surgery


class Surgery:
    """A parsed .mle file whose tree tensors can be edited and packed again."""

    def __init__(self, data):
        header = np.frombuffer(data, dtype=L.HEADER_DTYPE, count=1)[0]
        assert bytes(header["magic"]) == L.MAGIC
        table = np.frombuffer(data, dtype=L.SECTION_DTYPE, count=int(header["section_count"]),
                              offset=L.HEADER_SIZE)
        self.sections = {}
        for entry in table:
            start, size = int(entry["offset"]), int(entry["size"])
            self.sections[int(entry["kind"])] = bytes(data[start:start + size])
        # the optional estimator record (FORMAT.md 19) is descriptive: pack() leaves it out
        records = {L.SECTION_ESTIMATOR, L.SECTION_ESTIMATOR_ZLIB, L.SECTION_ESTIMATOR_DATA}
        assert sorted(set(self.sections) - records) == [L.SECTION_META, L.SECTION_GRAPH,
                                                        L.SECTION_DATA]
        assert set(self.sections) & {L.SECTION_ESTIMATOR, L.SECTION_ESTIMATOR_ZLIB}
        self.graph = json.loads(self.sections[L.SECTION_GRAPH])
        self.blob = bytearray(self.sections[L.SECTION_DATA])
        ens = [n for n in self.graph["nodes"] if n[0] == "TreeEnsemble"]
        assert len(ens) == 1, "the test models have exactly one TreeEnsemble node"
        self.attrs = ens[0][3]
        self.wide = self.attrs["node_format"] == "node64"
        self.record = L.TREE_NODE64_DTYPE if self.wide else L.TREE_NODE32_DTYPE
        self.n_features = self.graph["n_features"]

    # tensors ---------------------------------------------------------------
    def entry(self, attr):
        return self.graph["tensors"][self.attrs[attr]]

    def _array(self, attr, dtype):
        off, code, shape = self.entry(attr)
        count = int(np.prod(shape)) * L.TENSOR_DTYPES[code].itemsize // np.dtype(dtype).itemsize
        return np.frombuffer(self.blob, dtype=dtype, count=count, offset=off).copy()

    def _store(self, attr, array):
        off, code, shape = self.entry(attr)
        raw = np.ascontiguousarray(array).tobytes()
        assert len(raw) == int(np.prod(shape)) * L.TENSOR_DTYPES[code].itemsize
        self.blob[off:off + len(raw)] = raw

    @property
    def nodes(self):
        """The node records (a copy); assign to write them back."""
        return self._array("nodes", self.record)

    @nodes.setter
    def nodes(self, recs):
        assert recs.dtype == self.record
        self._store("nodes", recs)

    @property
    def roots(self):
        return self._array("roots", np.dtype("<i4"))

    @roots.setter
    def roots(self, roots):
        self._store("roots", np.asarray(roots, dtype="<i4"))

    @property
    def n_leaves(self):
        return self.entry("leaves")[2][0]

    def trees(self):
        """(start, end) node ranges of the trees."""
        roots = self.roots
        n = len(self.nodes)
        return [(int(s), int(e)) for s, e in zip(roots, list(roots[1:]) + [n])]

    def add_tensor(self, array, code):
        """Appends a tensor to the data section; returns its index in the tensor table."""
        array = np.ascontiguousarray(array, dtype=L.TENSOR_DTYPES[code])
        off = L.align_up(len(self.blob), 8)
        self.blob += bytes(off - len(self.blob)) + array.tobytes()
        self.graph["tensors"].append([off, code, list(array.shape)])
        return len(self.graph["tensors"]) - 1

    @property
    def binned(self):
        return "bin_offsets" in self.attrs

    def unbin(self):
        """Drops the binned-input tables (FORMAT.md 11.3): the records then hold bin indices
        compared with the raw input, a valid (if meaningless) node32 ensemble, to which the
        edits that binned input excludes (categorical nodes, "zero" rules) can be made."""
        for key in ("bin_offsets", "bin_thresholds", "bin_missing"):
            self.attrs.pop(key, None)

    def pack(self):
        graph = writer.encode_json(self.graph)
        return writer.pack_sections([(L.SECTION_META, self.sections[L.SECTION_META]),
                                     (L.SECTION_GRAPH, graph),
                                     (L.SECTION_DATA, bytes(self.blob), L.DATA_ALIGN)])


def is_leaf(rec):
    return (int(rec["feature_flags"]) & L.TREE_LEAF) != 0


def internal_nodes(recs, start, end):
    return [i for i in range(start, end) if not is_leaf(recs[i])]


def parents(recs, start, end):
    """Tree-relative parent of each tree-relative node (-1 for the root)."""
    par = np.full(end - start, -1)
    for i in range(end - start):
        r = recs[start + i]
        if not is_leaf(r):
            par[i + 1] = i
            par[int(r["right"])] = i
    return par


# ----------------------------------------------------------------------------- models


def _categorical_diabetes():
    """diabetes with an integer-coded categorical column 0 that the target depends on."""
    X, y = load_diabetes(return_X_y=True)
    rng = np.random.default_rng(3)
    c = rng.integers(0, 6, len(X)).astype(np.float64)
    return np.column_stack([c, X]), y + 60.0 * np.isin(c, [1, 4])


def _fit(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "DecisionTreeRegressor":
            X, y = load_diabetes(return_X_y=True)
            model = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y)
            method = "predict"
        elif kind == "RandomForestClassifier":
            X, y = load_wine(return_X_y=True)
            model = RandomForestClassifier(n_estimators=5, max_depth=4,
                                           random_state=0).fit(X, y)
            method = "predict_proba"
        elif kind == "HistGradientBoostingRegressor":
            X, y = load_diabetes(return_X_y=True)
            model = HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=8,
                                                  random_state=0).fit(X, y)
            method = "predict"
        elif kind == "HistGradientBoostingRegressor(categorical)":
            X, y = _categorical_diabetes()
            model = HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=8,
                                                  categorical_features=[0],
                                                  random_state=0).fit(X, y)
            method = "predict"
        elif kind == "LGBMRegressor(categorical)":
            from lightgbm import LGBMRegressor

            X, y = _categorical_diabetes()
            model = LGBMRegressor(n_estimators=5, num_leaves=8, min_data_per_group=5,
                                  cat_smooth=1.0, verbose=-1).fit(X, y, categorical_feature=[0])
            method = "predict"
        elif kind == "LGBMClassifier(multiclass)":
            from lightgbm import LGBMClassifier

            X, y = load_wine(return_X_y=True)
            model = LGBMClassifier(n_estimators=3, num_leaves=6, verbose=-1).fit(X, y)
            method = "predict_proba"
        else:
            raise KeyError(kind)
    return model, X, method


KINDS = ["DecisionTreeRegressor", "RandomForestClassifier", "HistGradientBoostingRegressor",
         "HistGradientBoostingRegressor(categorical)", "LGBMRegressor(categorical)",
         "LGBMClassifier(multiclass)"]
CATEGORICAL_KINDS = ["HistGradientBoostingRegressor(categorical)", "LGBMRegressor(categorical)"]


def _make_case(kind, tmp_path):
    """A dumped model: Case.surgery() parses a fresh copy, Case.refuse(data, exc, match)
    checks that a hostile file is refused (by path and as a file object) and that the
    pristine file still loads and predicts as before."""
    model, X, method = _fit(kind)
    path = tmp_path / "pristine.mle"
    mle.dump(model, path)
    pristine = path.read_bytes()
    # The reference is what the pristine file predicts before any surgery (parity with
    # scikit-learn is tests/exporters/test_sklearn_trees.py's job; test_pristine_file_matches_
    # sklearn checks it here too, separately, so a parity bug does not mask these tests).
    expected = getattr(mle.load(path), method)(X)
    counter = iter(range(10**6))

    def check_pristine():
        proxy = mle.load(path)
        np.testing.assert_array_equal(getattr(proxy, method)(X), expected)
        assert path.read_bytes() == pristine

    def refuse(data, exc=FormatError, match=None):
        bad = tmp_path / f"hostile{next(counter)}.mle"
        bad.write_bytes(data)
        with pytest.raises(exc, match=match) as info:
            mle.load(bad)
        if exc is FormatError:
            assert not isinstance(info.value, UnsupportedModelError)
        # in-memory loading takes the same validation path
        with open(bad, "rb") as f, pytest.raises(exc, match=match):
            mle.load(f)
        check_pristine()
        return info.value

    class Case:
        @staticmethod
        def surgery():
            return Surgery(pristine)

    Case.kind = kind
    Case.refuse = staticmethod(refuse)
    Case.check_pristine = staticmethod(check_pristine)
    Case.model, Case.X, Case.method, Case.expected = model, X, method, expected
    Case.tmp_path = tmp_path
    return Case


@pytest.fixture(params=KINDS)
def case(request, tmp_path):
    return _make_case(request.param, tmp_path)


@pytest.fixture(params=CATEGORICAL_KINDS)
def cat_case(request, tmp_path):
    """A HistGradientBoostingRegressor or LGBMRegressor whose trees split on a categorical
    feature (category_rule "hist_gradient_boosting" / "lightgbm")."""
    c = _make_case(request.param, tmp_path)
    s = c.surgery()
    assert "cat_offsets" in s.attrs and "cat_words" in s.attrs
    assert any(int(r["feature_flags"]) & L.TREE_CATEGORICAL for r in s.nodes if not is_leaf(r))
    return c


# ----------------------------------------------------------------------------- sanity


def test_repacked_file_is_valid(case):
    """The surgery itself (parse, re-pack, fresh checksums) keeps a valid file valid, so the
    refusals below are caused by the edits alone."""
    s = case.surgery()
    recs = s.nodes
    assert len(recs) > 8 and s.n_leaves > 0
    assert s.roots[0] == 0
    s.nodes = recs  # unchanged write-back
    path = case.tmp_path / "repacked.mle"
    path.write_bytes(s.pack())
    proxy = mle.load(path)
    np.testing.assert_array_equal(getattr(proxy, case.method)(case.X), case.expected)


def test_pristine_file_matches_sklearn(case):
    sk = getattr(case.model, case.method)(case.X)
    assert case.expected.dtype == sk.dtype and case.expected.shape == sk.shape
    np.testing.assert_array_equal(case.expected, sk)  # sums of leaf values: bit-exact


def test_a_changed_threshold_is_accepted_and_used(case):
    """Positive control: an edit that keeps every index valid loads, and the kernel reads the
    edited record (predictions move)."""
    s = case.surgery()
    recs = s.nodes
    i = _first_numeric_split(recs)
    recs["threshold"][i] = -1e30  # every row now goes right at this node
    s.nodes = recs
    path = case.tmp_path / "edited.mle"
    path.write_bytes(s.pack())
    got = getattr(mle.load(path), case.method)(case.X)
    assert not np.array_equal(got, case.expected)
    case.check_pristine()


# ----------------------------------------------------------------------------- children


def test_child_index_beyond_the_tree(case):
    s0 = case.surgery()
    for t, (start, end) in enumerate(s0.trees()):
        size = end - start
        for bad_right in (size, size + 1, len(s0.nodes), 2**31 - 1, 2**32 - 1):
            s = case.surgery()
            recs = s.nodes
            i = internal_nodes(recs, start, end)[0]  # absolute index
            recs["right"][i] = bad_right
            s.nodes = recs
            case.refuse(s.pack(), match="tree")
        if t >= 2:
            break


def test_child_index_into_the_next_tree(case):
    """A right child inside the node array but past the end of its own tree."""
    s0 = case.surgery()
    trees = s0.trees()
    start, end = trees[0]
    recs = s0.nodes
    last_internal = internal_nodes(recs, start, end)[-1]  # absolute index
    s = case.surgery()
    recs = s.nodes
    # tree-relative index of the next tree's root (single tree: one past the end, same check)
    recs["right"][last_internal] = end - start
    s.nodes = recs
    case.refuse(s.pack(), match="tree 0")


def test_right_child_pointing_to_itself(case):
    s0 = case.surgery()
    for start, end in s0.trees()[:2]:
        for i in internal_nodes(s0.nodes, start, end)[:3]:
            s = case.surgery()
            recs = s.nodes
            recs["right"][i] = i - start  # tree-relative index of the node itself
            s.nodes = recs
            case.refuse(s.pack(), match="tree")


def test_right_child_pointing_to_an_ancestor(case):
    """A cycle attempt: a deep node's right child is its parent, or the root."""
    s0 = case.surgery()
    tried = 0
    for start, end in s0.trees()[:2]:
        recs0 = s0.nodes
        par = parents(recs0, start, end)
        deep = [i - start for i in internal_nodes(recs0, start, end) if par[i - start] > 0]
        for rel in deep[:3]:
            for ancestor in {int(par[rel]), 0}:
                s = case.surgery()
                recs = s.nodes
                recs["right"][start + rel] = ancestor
                s.nodes = recs
                case.refuse(s.pack(), match="tree")
                tried += 1
    assert tried >= 2


def test_last_node_of_a_tree_cannot_be_internal(case):
    """Clearing the leaf flag of a tree's last node gives it a left child outside the tree."""
    s0 = case.surgery()
    for start, end in s0.trees()[:2]:
        s = case.surgery()
        recs = s.nodes
        assert is_leaf(recs[end - 1])
        recs["feature_flags"][end - 1] &= np.uint32(~L.TREE_LEAF & 0xFFFFFFFF)
        recs["right"][end - 1] = 0
        s.nodes = recs
        case.refuse(s.pack(), match="tree")


# ----------------------------------------------------------------------------- features


@pytest.mark.parametrize("offset", [0, 1, 1000])
def test_feature_index_beyond_input(case, offset):
    s = case.surgery()
    recs = s.nodes
    i = internal_nodes(recs, 0, len(recs))[-1]
    ff = int(recs["feature_flags"][i])
    recs["feature_flags"][i] = (ff & ~L.TREE_FEATURE_MASK) | (s.n_features + offset)
    s.nodes = recs
    case.refuse(s.pack(), match="feature")


def test_feature_index_all_ones(case):
    s = case.surgery()
    recs = s.nodes
    i = internal_nodes(recs, 0, len(recs))[0]
    recs["feature_flags"][i] |= np.uint32(L.TREE_FEATURE_MASK)
    s.nodes = recs
    case.refuse(s.pack(), match="feature")


def test_graph_input_narrower_than_the_features_used(case):
    """n_features in the graph lowered below a feature some node splits on."""
    s = case.surgery()
    recs = s.nodes
    used = max(int(r["feature_flags"]) & L.TREE_FEATURE_MASK for r in recs if not is_leaf(r))
    assert used >= 1
    s.graph["n_features"] = used  # feature `used` is now out of range
    # (the categorical model's OrdinalEncode step, ahead of the trees, notices first)
    case.refuse(s.pack(), match="feature|column")


# ----------------------------------------------------------------------------- leaves


@pytest.mark.parametrize("beyond", [0, 1, 2**31, 2**32])
def test_leaf_row_beyond_the_leaf_matrix(case, beyond):
    s = case.surgery()
    recs = s.nodes
    leaf = [i for i in range(len(recs)) if is_leaf(recs[i])][-1]
    recs["right"][leaf] = min(s.n_leaves + beyond, 2**32 - 1)
    s.nodes = recs
    case.refuse(s.pack(), match="leaf")


def test_leaf_matrix_declared_smaller(case):
    """The leaves tensor claims fewer rows than the leaves reference."""
    s = case.surgery()
    n_leaves, n_out = s.entry("leaves")[2]
    used = max(int(r["right"]) for r in s.nodes if is_leaf(r))
    assert used >= 1
    s.entry("leaves")[2] = [used, n_out]  # row `used` is now outside
    case.refuse(s.pack(), match="leaf")


# ----------------------------------------------------------------------------- flags


@pytest.mark.parametrize("bit", UNKNOWN_FLAG_BITS, ids=["bit24", "bit25", "bit26"])
@pytest.mark.parametrize("where", ["internal", "leaf"])
def test_unknown_flag_bit(case, bit, where):
    assert bit & KNOWN_FLAG_BITS == 0 and bit & L.TREE_FEATURE_MASK == 0
    s = case.surgery()
    recs = s.nodes
    leaves = [i for i in range(len(recs)) if is_leaf(recs[i])]
    i = internal_nodes(recs, 0, len(recs))[1] if where == "internal" else leaves[1]
    recs["feature_flags"][i] |= np.uint32(bit)
    s.nodes = recs
    case.refuse(s.pack(), match="flag")


# What an ensemble's categorical nodes need: the sets and the category rule's aspects.
CATEGORY_ATTRS = ("cat_offsets", "cat_words", "category_cast", "category_nan",
                  "category_invalid", "category_set")


def _set_rule(attrs, rule):
    """Gives the ensemble the category rule of an earlier file's name (``category_rule``), in
    place of the rule's aspects."""
    for key in [k for k in attrs if k.startswith("category_")]:
        del attrs[key]
    attrs["category_rule"] = rule


def test_categorical_flag_without_category_tables(case):
    """A categorical node in an ensemble that has no category sets: refused at load (the
    kernel would otherwise read set tables that do not exist)."""
    s = case.surgery()
    for attr in CATEGORY_ATTRS + ("category_known", "category_rule"):  # the categorical
        s.attrs.pop(attr, None)  # model's own tables are dropped
    recs = s.nodes
    i = internal_nodes(recs, 0, len(recs))[0]
    recs["feature_flags"][i] |= np.uint32(L.TREE_CATEGORICAL)
    s.nodes = recs
    case.refuse(s.pack(), match="cat_offsets")


NO_SET = 0xFFFFFFFF


def _category_tables(s, offsets=None, rule="hist_gradient_boosting"):
    """Gives the ensemble category tables (keeps the model's own unless ``offsets`` is given
    or it has none: then two sets of 8 words); returns the number of sets."""
    if offsets is None and "cat_offsets" in s.attrs:
        _set_rule(s.attrs, rule)
        return s.entry("cat_offsets")[2][0] - 1
    offsets = (0, 8, 16) if offsets is None else offsets
    words = np.zeros(16, dtype="<u4")
    words[0] = 0b1011  # set 0: categories 0, 1, 3
    words[8] = 0xFF  # set 1: categories 0-7
    s.attrs["cat_offsets"] = s.add_tensor(np.asarray(offsets, dtype="<u4"), "u4")
    s.attrs["cat_words"] = s.add_tensor(words, "u4")
    _set_rule(s.attrs, rule)
    return len(offsets) - 1


def _make_categorical(s, node, left, known=NO_SET):
    """Makes internal node `node` categorical, referencing sets `left` / `known` (Node64:
    low / high 32 bits of the threshold; Node32: the threshold's bits are the left set)."""
    recs = s.nodes
    recs["feature_flags"][node] |= np.uint32(L.TREE_CATEGORICAL)
    if s.wide:
        recs["threshold"].view("<u8")[node] = (known << 32) | left
    else:
        recs["threshold"].view("<u4")[node] = left
    s.nodes = recs


def _first_numeric_split(recs):
    return next(i for i, r in enumerate(recs)
                if not is_leaf(r) and not int(r["feature_flags"]) & L.TREE_CATEGORICAL)


def test_valid_category_sets_load(case):
    """Positive control for the category-table tests: valid references load and predict."""
    s = case.surgery()
    s.unbin()
    _category_tables(s)
    _make_categorical(s, _first_numeric_split(s.nodes), left=0, known=1 if s.wide else NO_SET)
    path = case.tmp_path / "categorical.mle"
    path.write_bytes(s.pack())
    got = getattr(mle.load(path), case.method)(case.X)
    assert got.shape == case.expected.shape and np.all(np.isfinite(got))
    case.check_pristine()


def test_unknown_category_rule_is_refused(case):
    s = case.surgery()
    _category_tables(s, rule="lightgbm_v9")
    _make_categorical(s, _first_numeric_split(s.nodes), left=0)
    case.refuse(s.pack(), match="got 'lightgbm_v9'")


@pytest.mark.parametrize("name,value", [("left", "n_sets"), ("left", 2**31), ("left", NO_SET),
                                        ("known", "n_sets"), ("known", 2**31)],
                         ids=["left=n_sets", "left=2**31", "left=none", "known=n_sets",
                              "known=2**31"])
def test_category_set_index_out_of_range(case, name, value):
    s = case.surgery()
    n_sets = _category_tables(s)
    value = n_sets if value == "n_sets" else value
    if name == "known" and s.wide:
        value_left, value_known = 0, value
    else:
        # (Node32 records have no known-set reference: the bad index goes in the left set)
        value_left, value_known = value, NO_SET
    _make_categorical(s, _first_numeric_split(s.nodes), left=value_left, known=value_known)
    case.refuse(s.pack(), match="category set index")


@pytest.mark.parametrize("offsets", [
    (1, 8, 16),           # does not start at 0
    (0, 16, 8),           # decreasing
    (0, 8, 17),           # beyond cat_words
    (0, 8, 2**32 - 1),
    (0,),                 # no sets at all
], ids=["start", "decreasing", "beyond", "huge", "empty"])
def test_corrupt_category_offsets(case, offsets):
    s = case.surgery()
    _category_tables(s, offsets=offsets)
    _make_categorical(s, _first_numeric_split(s.nodes), left=0)
    case.refuse(s.pack(), match="cat_offsets")


def test_missing_value_kinds_are_known(case):
    """Every 2-bit missing-value kind is defined: changing it is not a format error (control
    for the unknown-flag tests)."""
    for kind in (L.TREE_MISSING_NONE, L.TREE_MISSING_ZERO, L.TREE_MISSING_AS_ZERO):
        s = case.surgery()
        s.unbin()  # binned input refuses the "zero" rules (test_binned_input_refuses_...)
        recs = s.nodes
        i = internal_nodes(recs, 0, len(recs))[0]
        ff = int(recs["feature_flags"][i]) & ~(3 << L.TREE_MISSING_SHIFT)
        recs["feature_flags"][i] = ff | (kind << L.TREE_MISSING_SHIFT)
        s.nodes = recs
        path = case.tmp_path / f"missing{kind}.mle"
        path.write_bytes(s.pack())
        proxy = mle.load(path)
        assert getattr(proxy, case.method)(case.X).shape == case.expected.shape


# ----------------------------------------------------------------------------- roots


def _roots_cases(n_trees, n_nodes, roots):
    cases = {
        "negative first root": [-1] + list(roots[1:]),
        "first root past the end": [n_nodes] + list(roots[1:]),
        "last root past the end": list(roots[:-1]) + [n_nodes + 5],
        "last root at the end (empty tree)": list(roots[:-1]) + [n_nodes],
        "root at INT32_MAX": list(roots[:-1]) + [2**31 - 1],
        "root at INT32_MIN": [-2**31] + list(roots[1:]),
    }
    if n_trees >= 2:
        cases["repeated root (empty tree)"] = [roots[0], roots[0]] + list(roots[2:])
    if n_trees >= 3:
        r = list(roots)
        r[1], r[2] = r[2], r[1]
        cases["decreasing roots"] = r
    return cases


def test_roots_not_increasing_or_out_of_range(case):
    s0 = case.surgery()
    roots = s0.roots
    cases = _roots_cases(len(roots), len(s0.nodes), roots)
    assert len(cases) >= 6
    for label, bad in cases.items():
        s = case.surgery()
        s.roots = bad
        err = case.refuse(s.pack())
        assert "root" in str(err), (label, str(err))


def test_no_trees(case):
    s = case.surgery()
    s.entry("roots")[2] = [0]
    case.refuse(s.pack(), match="no trees")


# ----------------------------------------------------------------------------- tensor shapes


def test_nodes_tensor_with_wrong_record_width(case):
    s0 = case.surgery()
    n, width = s0.entry("nodes")[2]
    assert width == s0.record.itemsize
    nbytes = n * width
    shapes = [[nbytes // 4, 4], [nbytes // 2, 2], [nbytes]]
    other = 12 if s0.wide else 16
    if nbytes % other == 0:
        shapes.append([nbytes // other, other])
    if nbytes % (2 * width) == 0:
        shapes.append([nbytes // (2 * width), 2 * width])
    for shape in shapes:
        s = case.surgery()
        s.entry("nodes")[2] = shape
        case.refuse(s.pack(), match="nodes")


def test_node_format_disagrees_with_records(case):
    s = case.surgery()
    s.attrs["node_format"] = "node32" if s.wide else "node64"
    case.refuse(s.pack(), match="nodes")


def test_nodes_tensor_longer_than_the_data(case):
    s = case.surgery()
    n, width = s.entry("nodes")[2]
    s.entry("nodes")[2] = [n + 10_000, width]
    case.refuse(s.pack(), match="beyond")


def test_nodes_tensor_wrong_dtype(case):
    s = case.surgery()
    n, width = s.entry("nodes")[2]
    s.entry("nodes")[1] = "u4"
    s.entry("nodes")[2] = [n, width // 4]
    case.refuse(s.pack(), match="uint8")


@pytest.mark.parametrize("shift", [1, 2, 4])
def test_misaligned_node_records(case, shift):
    """The node records copied to an offset that is not a multiple of their threshold size
    (uint8 tensors may start anywhere as far as the container is concerned)."""
    s = case.surgery()
    align = 8 if s.wide else 4
    if shift % align == 0:
        shift = 1
    off, code, shape = s.entry("nodes")
    raw = bytes(s.blob[off:off + shape[0] * shape[1]])
    new_off = L.align_up(len(s.blob), 64) + shift
    assert new_off % align != 0
    s.blob += bytes(new_off - len(s.blob)) + raw
    s.entry("nodes")[0] = new_off
    case.refuse(s.pack(), match="align")


def test_base_with_wrong_length(case):
    s = case.surgery()
    if "base" not in s.attrs:
        # forests and single trees have no base: give them one of the wrong length
        off = L.align_up(len(s.blob), 8)
        s.blob += bytes(off - len(s.blob)) + np.zeros(7, "<f8").tobytes()
        s.graph["tensors"].append([off, "f8", [7]])
        s.attrs["base"] = len(s.graph["tensors"]) - 1
    else:
        n = s.entry("base")[2][0]
        s.entry("base")[2] = [n + 1]
        s.blob += bytes(8)
    case.refuse(s.pack(), match="base")


@pytest.mark.parametrize("attr,value", [("compare", "<<"), ("aggregate", "max"),
                                        ("node_format", "node16")])
def test_bad_string_attributes(case, attr, value):
    s = case.surgery()
    s.attrs[attr] = value
    case.refuse(s.pack(), match=attr)


# ----------------------------------------------------------------------------- real category sets


def _first_categorical(recs):
    return next(i for i, r in enumerate(recs)
                if not is_leaf(r) and int(r["feature_flags"]) & L.TREE_CATEGORICAL)


def test_real_category_set_index_out_of_range(cat_case):
    s0 = cat_case.surgery()
    n_sets = s0.entry("cat_offsets")[2][0] - 1
    i = _first_categorical(s0.nodes)
    for half, value in (("left", n_sets), ("left", NO_SET), ("known", n_sets),
                        ("known", NO_SET - 1)):
        s = cat_case.surgery()
        recs = s.nodes
        bits = recs["threshold"].view("<u8")
        left, known = int(bits[i]) & NO_SET, int(bits[i]) >> 32
        if half == "left":
            left = value
        else:
            known = value
        bits[i] = (known << 32) | left
        s.nodes = recs
        cat_case.refuse(s.pack(), match="category set")


def test_real_category_offsets_corrupted(cat_case):
    s0 = cat_case.surgery()
    offsets = s0._array("cat_offsets", np.dtype("<u4"))
    n_words = s0.entry("cat_words")[2][0]
    assert offsets[0] == 0 and offsets[-1] == n_words and len(offsets) >= 3
    bad_cases = {
        "beyond cat_words": np.r_[offsets[:-1], n_words + 1],
        "decreasing": np.r_[offsets[0], offsets[2], offsets[1], offsets[3:]],
        "not starting at 0": np.r_[1, offsets[1:]],
        "huge": np.r_[offsets[:-1], 2**32 - 1],
    }
    for label, bad in bad_cases.items():
        s = cat_case.surgery()
        s._store("cat_offsets", np.asarray(bad, dtype="<u4"))
        cat_case.refuse(s.pack(), match="cat_offsets")


def test_real_category_words_truncated(cat_case):
    """cat_words declared shorter than cat_offsets says."""
    s = cat_case.surgery()
    n_words = s.entry("cat_words")[2][0]
    s.entry("cat_words")[2] = [n_words - 1]
    cat_case.refuse(s.pack(), match="cat")


def test_real_category_tables_missing(cat_case):
    for attr in CATEGORY_ATTRS:
        s = cat_case.surgery()
        del s.attrs[attr]
        cat_case.refuse(s.pack(), match=attr)


@pytest.mark.parametrize("key", ["category_cast", "category_rule"])
def test_real_category_rule_unknown(cat_case, key):
    s = cat_case.surgery()
    if key == "category_rule":
        _set_rule(s.attrs, "xgboost_partition")
    else:
        s.attrs[key] = "xgboost_partition"
    cat_case.refuse(s.pack(), match=f"'{key}' must be .*got 'xgboost_partition'")


# ----------------------------------------------------------------------------- per-tree targets


@pytest.mark.parametrize("kind", ["DecisionTreeRegressor", "HistGradientBoostingRegressor"])
def test_per_tree_targets(kind, tmp_path):
    """`targets` sends each tree's one-value leaves to one output column: valid targets give the
    sums column by column; a target outside [0, n_outputs), a missing or fractional n_outputs,
    or a leaf matrix with more than one column is refused."""
    c = _make_case(kind, tmp_path)

    def with_targets(tg, n_outputs=2):
        sg = c.surgery()
        sg.attrs["targets"] = sg.add_tensor(tg, "i4")
        if n_outputs is not None:
            sg.attrs["n_outputs"] = n_outputs
        sg.attrs.pop("base", None)
        if isinstance(n_outputs, int) and n_outputs > len(tg):
            # a column no tree adds to is backed by its base value (a zero changes no sum)
            sg.attrs["base"] = sg.add_tensor(np.zeros(n_outputs), "f8")
        sg.graph["outputs"] = [o[:2] for o in sg.graph["outputs"]]  # now several columns
        return sg

    n_trees = len(c.surgery().roots)
    targets = np.arange(n_trees, dtype=np.int32) % 2
    s = with_targets(targets)
    path = tmp_path / "targets.mle"
    path.write_bytes(s.pack())
    got = mle.load(path)._native.run(np.ascontiguousarray(c.X, dtype=np.float64),
                                     mle.load(path)._native.outputs["predict"])
    assert got.shape == (len(c.X), 2)
    # Column k must hold the sum of the trees whose target is k, each evaluated separately.
    per_tree = []
    for t in range(n_trees):
        one = with_targets(np.where(np.arange(n_trees) == t, 0, 1).astype(np.int32))
        p = tmp_path / f"one{t}.mle"
        p.write_bytes(one.pack())
        nm = mle.load(p)._native
        per_tree.append(nm.run(np.ascontiguousarray(c.X, dtype=np.float64),
                               nm.outputs["predict"])[:, 0])
    for k in (0, 1):
        expected = np.zeros(len(c.X))
        for t in range(n_trees):
            if targets[t] == k:
                expected = expected + per_tree[t]
        np.testing.assert_array_equal(got[:, k], expected)

    for bad_targets, n_outputs, match in [
            (np.full(n_trees, 2, np.int32), 2, "target column out of range"),
            (np.full(n_trees, -1, np.int32), 2, "target column out of range"),
            (np.zeros(n_trees, np.int32), 1.5, "n_outputs"),
            (np.zeros(n_trees, np.int32), 0, "n_outputs"),
            (np.zeros(n_trees, np.int32), None, "n_outputs")]:
        c.refuse(with_targets(bad_targets, n_outputs).pack(), match=match)
    c.refuse(with_targets(np.zeros(n_trees + 1, np.int32)).pack(), match="targets")


# ----------------------------------------------------------------------------- binned input

BINNED_KINDS = ["HistGradientBoostingRegressor", "LGBMClassifier(multiclass)"]


@pytest.fixture(params=BINNED_KINDS)
def bin_case(request, tmp_path):
    """A float64-threshold model stored with binned input (FORMAT.md 11.3)."""
    c = _make_case(request.param, tmp_path)
    assert c.surgery().binned, "float64-threshold models without categories are binned"
    return c


def _bin_offsets(s):
    return s._array("bin_offsets", np.dtype("<u4"))


def _bin_thresholds(s):
    return s._array("bin_thresholds", np.dtype("<f8"))


def _feature_with_bins(s, at_least=2):
    counts = np.diff(_bin_offsets(s))
    return int(np.flatnonzero(counts >= at_least)[0])


@pytest.mark.parametrize("key", ["bin_offsets", "bin_thresholds", "bin_missing"])
def test_binned_tables_come_together(bin_case, key):
    s = bin_case.surgery()
    del s.attrs[key]
    bin_case.refuse(s.pack(), match="must be given together")


def test_bin_offsets_must_start_at_zero(bin_case):
    s = bin_case.surgery()
    off = _bin_offsets(s)
    off[0] = 1
    s._store("bin_offsets", off)
    bin_case.refuse(s.pack(), match="start at 0")


@pytest.mark.parametrize("edit", ["decreasing", "beyond", "huge"])
def test_bin_offsets_must_increase_inside_the_thresholds(bin_case, edit):
    s = bin_case.surgery()
    off = _bin_offsets(s).astype(np.int64)
    f = _feature_with_bins(s, 1)
    if edit == "decreasing":
        off[f + 1] = off[f] - 1 if off[f] > 0 else 2**32 - 1
    elif edit == "beyond":
        off[-1] = len(_bin_thresholds(s)) + 1
    else:
        off[f + 1:] = 2**32 - 1
    s._store("bin_offsets", off.astype("<u4"))
    bin_case.refuse(s.pack(), match="bin_offsets must increase")


@pytest.mark.parametrize("edit", ["equal", "decreasing", "nan"])
def test_bin_thresholds_must_be_strictly_increasing(bin_case, edit):
    s = bin_case.surgery()
    f = _feature_with_bins(s)
    j = int(_bin_offsets(s)[f]) + 1
    t = _bin_thresholds(s)
    t[j] = {"equal": t[j - 1], "decreasing": t[j - 1] - 1.0, "nan": np.nan}[edit]
    s._store("bin_thresholds", t)
    bin_case.refuse(s.pack(), match="strictly increasing and not NaN")


def test_bin_missing_codes_are_known(bin_case):
    s = bin_case.surgery()
    m = s._array("bin_missing", np.dtype("u1"))
    m[0] = 3
    s._store("bin_missing", m)
    bin_case.refuse(s.pack(), match="bin_missing must be 0, 1 or 2")


@pytest.mark.parametrize("key,dims", [("bin_offsets", "short"), ("bin_missing", "short"),
                                      ("bin_offsets", "float64")])
def test_bin_tables_have_their_shape_and_dtype(bin_case, key, dims):
    s = bin_case.surgery()
    n = s.n_features + (1 if key == "bin_offsets" else 0)
    if dims == "short":
        code = s.entry(key)[1]
        s.attrs[key] = s.add_tensor(np.zeros(n - 1), code)
    else:
        s.attrs[key] = s.add_tensor(np.zeros(n), next(c for c, d in L.TENSOR_DTYPES.items()
                                                      if d == np.dtype("<f8")))
    bin_case.refuse(s.pack(), match=key)


@pytest.mark.parametrize("edit", ["categorical", "zero", "as_zero", "node64", "median"])
def test_binned_input_refuses_what_it_cannot_bin(bin_case, edit):
    """Binned records hold bin indices: a categorical node, a "zero" rule (bin_missing applies
    those), node64 records or a weighted median over binned input are malformed."""
    s = bin_case.surgery()
    recs = s.nodes
    i = _first_numeric_split(recs)
    if edit == "categorical":
        _category_tables(s)
        _make_categorical(s, i, left=0)
        match = "categorical"
    elif edit in ("zero", "as_zero"):
        kind = L.TREE_MISSING_ZERO if edit == "zero" else L.TREE_MISSING_AS_ZERO
        ff = int(recs["feature_flags"][i]) & ~(3 << L.TREE_MISSING_SHIFT)
        recs["feature_flags"][i] = ff | (kind << L.TREE_MISSING_SHIFT)
        s.nodes = recs
        match = "'zero' missing-value rules"
    elif edit == "node64":
        wide = np.zeros(len(recs), dtype=L.TREE_NODE64_DTYPE)
        for f in ("threshold", "feature_flags", "right"):
            wide[f] = recs[f]
        s.attrs["nodes"] = s.add_tensor(wide.view(np.uint8).reshape(len(recs), 16),
                                        s.entry("nodes")[1])
        s.attrs["node_format"] = "node64"
        match = "node_format 'node32'"
    else:
        # (with several outputs the weighted median is refused for that reason first)
        n_trees = len(s.roots)
        s.attrs["aggregate"] = "weighted_median"
        s.attrs["median_weights"] = s.add_tensor(np.ones(n_trees),
                                                 s.entry("leaves")[1])
        s.attrs.pop("base", None)
        match = "weighted_median"
    bin_case.refuse(s.pack(), match=match)
