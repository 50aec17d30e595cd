"""The op vocabulary: each op's inputs and attribute schema.

The C++ plan builder is the authority that validates untrusted files: each kernel family
(``_native/src/kernels/*.cpp``) registers its ops with their schemas, and ``_native.ops()``
returns them. This table is the same vocabulary written out for exporters, so that a wrong node
fails at dump time with a Python traceback; ``tests/ir/test_op_vocabulary.py`` checks that it
equals ``_native.ops()`` (it is not generated from it at import, which would cost every
``import mle_runtime``). Attribute kinds: ``"tensor:<dtype>"`` (an index into the graph's tensor
table; dtype as numpy names it), ``"bool"``, ``"number"``, ``"string"`` (any string), or a tuple
of the values a string attribute may take. An attribute name ending in ``?`` is optional.
"""

OPS = {
    # Preprocessing (kernels/preprocess.cpp). Outputs keep the caller's float dtype.
    "SubDiv": {
        "inputs": 1,
        "attrs": {"sub?": "tensor:float64", "div?": "tensor:float64", "cast_params?": "bool"},
    },
    "MulAdd": {
        "inputs": 1,
        "attrs": {
            "mul?": "tensor:float64",
            "add?": "tensor:float64",
            "clip?": "bool",
            "clip_min?": "number",
            "clip_max?": "number",
            "cast_params?": "bool",
        },
    },
    "Normalize": {"inputs": 1, "attrs": {"norm": ("l1", "l2", "max")}},
    "Impute": {
        "inputs": 1,
        "attrs": {
            "columns?": "tensor:int64",
            "fill": "tensor:float64",
            "missing_is_nan": "bool",
            "missing_value?": "number",
            "compare_float32?": "bool",
        },
    },
    # Column routing (kernels/compose.cpp): ColumnTransformer, FeatureUnion, stacking.
    # "inputs": -1 means one or more.
    "Columns": {"inputs": 1, "attrs": {"columns": "tensor:int64"}},
    "Concat": {"inputs": -1, "attrs": {}},
    "OrdinalEncode": {
        "inputs": 1,
        "attrs": {"columns": "tensor:int64", "cat_offsets": "tensor:int64",
                  "categories": "tensor:float64"},
    },
    # Linear maps (kernels/linear.cpp). Output float64, or the caller's dtype with
    # follow_input_dtype.
    "Linear": {
        "inputs": 1,
        "attrs": {"weight": "tensor:float64", "bias?": "tensor:float64", "follow_input_dtype?": "bool"},
    },
    # Output heads (kernels/activations.cpp). Outputs keep the input's float kind (ArgMax: int64).
    "Sigmoid": {"inputs": 1, "attrs": {}},
    "Exp": {"inputs": 1, "attrs": {}},
    "AnomalyScore": {"inputs": 1, "attrs": {}},
    "OutlierLabel": {"inputs": 1, "attrs": {}},
    "SegmentArgMax": {"inputs": 1, "attrs": {"segments": "tensor:int64"}},
    "Log": {"inputs": 1, "attrs": {}},
    "HuberScale": {"inputs": 1, "attrs": {}},
    "SignedSquare": {"inputs": 1, "attrs": {}},
    "Log1pExp": {"inputs": 1, "attrs": {}},
    "BinaryProba": {"inputs": 1, "attrs": {}},
    "NormalizeRows": {"inputs": 1, "attrs": {"zero_rows": ("uniform", "keep", "divide")}},
    "Softmax": {"inputs": 1, "attrs": {}},
    "ArgMax": {"inputs": 1, "attrs": {"ge?": "bool"}},
    # Log-probability heads computed from raw scores without cancellation (CatBoost's
    # "LogProbability"), and RMSEWithUncertainty's [mean, exp(2 * log_sigma)].
    "BinaryLogProba": {"inputs": 1, "attrs": {}},
    "LogSigmoid": {"inputs": 1, "attrs": {}},
    "LogSoftmax": {"inputs": 1, "attrs": {}},
    "MeanVariance": {"inputs": 1, "attrs": {}},
    # Tree ensembles (kernels/trees.cpp). Output float64: base + sum (or mean) of leaf rows.
    "TreeEnsemble": {
        "inputs": 1,
        "attrs": {
            "nodes": "tensor:uint8",
            "roots": "tensor:int32",
            "leaves": "tensor:float64",
            "base?": "tensor:float64",
            "median_weights?": "tensor:float64",
            "targets?": "tensor:int32",
            "n_outputs?": "number",
            "cat_offsets?": "tensor:uint32",
            "cat_words?": "tensor:uint32",
            # How categorical nodes send a value (docs/FORMAT.md 11.2): ir.trees.CategoryRule.
            "category_cast?": ("truncate_uint8", "float32_truncate", "truncate_int32"),
            "category_nan?": ("default", "not_in_set"),
            "category_invalid?": ("default", "not_in_set"),
            "category_set?": ("left", "right"),
            "category_known?": "bool",
            # The same rule as one name, in files written before format version 1.3 (read,
            # never written).
            "category_rule?": ("hist_gradient_boosting", "xgboost", "lightgbm"),
            "accumulate?": ("float64", "float32"),
            # Binned input (docs/FORMAT.md 11.3): ir.tree_bins.
            "bin_offsets?": "tensor:uint32",
            "bin_thresholds?": "tensor:float64",
            "bin_missing?": "tensor:uint8",
            "node_format": ("node32", "node64"),
            "compare": ("<", "<="),
            "aggregate": ("sum", "mean", "weighted_median"),
        },
    },
    "Scale": {"inputs": 1, "attrs": {"factor": "number"}},
    # Oblivious (symmetric) tree ensembles, CatBoost's model (kernels/oblivious.cpp). Output
    # float64: scale * (sum of leaf rows, in tree order) + bias.
    "ObliviousEnsemble": {
        "inputs": 1,
        "attrs": {
            "features": "tensor:int32",
            "border_offsets": "tensor:int32",
            "borders": "tensor:float32",
            "nan_as_true": "tensor:uint8",
            "splits": "tensor:int32",
            "depths": "tensor:int32",
            "leaves": "tensor:float64",
            "bias": "tensor:float64",
            "scale": "number",
            "complete?": "bool",
        },
    },
    # Float32 links (kernels/float32_links.cpp), XGBoost's arithmetic. Output float64.
    "SigmoidF32": {"inputs": 1, "attrs": {}},
    "SoftmaxF32": {"inputs": 1, "attrs": {}},
    "ExpF32": {"inputs": 1, "attrs": {}},
    # Dense kernels (kernels/dense/ops.cpp): fully connected layers, stored rows (nearest row,
    # distances, kernel matrices), a threshold head. Output float64 (NearestRow, GreaterThan:
    # int64).
    "Dense": {
        "inputs": 1,
        "attrs": {"weight": "tensor:float64", "bias?": "tensor:float64",
                  "activation?": ("identity", "relu", "tanh", "logistic", "cos")},
    },
    "NearestRow": {"inputs": 1, "attrs": {"rows": "tensor:float64",
                                          "row_sq_norms": "tensor:float64"}},
    "BisectTree": {"inputs": 1, "attrs": {"rows": "tensor:float64",
                                          "row_sq_norms": "tensor:float64",
                                          "children": "tensor:int32"}},
    "RowKernel": {
        "inputs": 1,
        "attrs": {"rows": "tensor:float64", "row_sq_norms?": "tensor:float64",
                  "kernel": ("euclidean", "sqeuclidean", "linear", "poly", "rbf", "sigmoid",
                             "cosine", "laplacian", "chi2", "additive_chi2"),
                  "gamma?": "number", "coef0?": "number", "degree?": "number"},
    },
    "GaussianLogDensity": {"inputs": 1, "attrs": {"mean": "tensor:float64",
                                                  "precision": "tensor:float64",
                                                  "constant": "number"}},
    "GreaterThan": {"inputs": 1, "attrs": {"threshold": "number"}},
    # Naive Bayes, dummy estimators, discriminant analysis and isotonic regression
    # (kernels/bayes.cpp, constant.cpp, discriminant.cpp, isotonic.cpp).
    "GaussianLogLikelihood": {
        "inputs": 1,
        "attrs": {"theta": "tensor:float64", "var": "tensor:float64",
                  "log_prior": "tensor:float64", "norm": "tensor:float64"},
    },
    "CategoricalLogLikelihood": {
        "inputs": 1,
        "attrs": {"offsets": "tensor:int64", "table": "tensor:float64",
                  "log_prior": "tensor:float64"},
    },
    "LogSumExpNormalize": {"inputs": 1, "attrs": {}},
    "Constant": {"inputs": 1, "attrs": {"values": "tensor:float64"}},
    "Binarize": {"inputs": 1, "attrs": {"threshold": "number"}},
    "SegmentSumSquares": {
        "inputs": 1,
        "attrs": {"segments": "tensor:int64", "offset": "tensor:float64",
                  "bias": "tensor:float64", "scale": "number"},
    },
    "LogNonzero": {"inputs": 1, "attrs": {}},
    "Interp1D": {
        "inputs": 1,
        "attrs": {"x": "tensor:float64", "y": "tensor:float64",
                  "out_of_bounds": ("nan", "clip", "raise")},
    },
    # Categorical encoders (kernels/encode.cpp): OneHotEncoder, OrdinalEncoder over numeric
    # values or string codes (input rule "strings"). Output float64.
    "OneHot": {
        "inputs": 1,
        "attrs": {"offsets": "tensor:int64", "categories": "tensor:float64",
                  "columns": "tensor:int64", "unknown": "tensor:int64", "width": "tensor:int64"},
    },
    "CategoryMap": {
        "inputs": 1,
        "attrs": {"offsets": "tensor:int64", "categories": "tensor:float64",
                  "codes": "tensor:float64", "unknown": "tensor:float64"},
    },
    # Missing-value indicators and Binarizer (kernels/encode.cpp). Output: the input's kind.
    "MissingMask": {
        "inputs": 1,
        "attrs": {"columns": "tensor:int64", "missing_is_nan": "bool",
                  "missing_value?": "number"},
    },
    # Binarizer uses Binarize (kernels/constant.cpp), above.
    # Combining models' outputs (kernels/ensemble.cpp): voting, stacking, calibration.
    "WeightedMean": {"inputs": -1, "attrs": {"weights?": "tensor:float64"}},
    "Vote": {"inputs": -1, "attrs": {"n_classes": "number", "weights?": "tensor:float64"}},
    "AsFloat64": {"inputs": 1, "attrs": {}},
    "IndexConcat": {"inputs": -1, "attrs": {}},
    "MathFn": {"inputs": 1, "attrs": {"fn": (
        "expm1", "log1p", "sqrt", "square", "exp", "log", "exp2", "log2", "log10", "cbrt", "abs",
        "negative", "reciprocal", "sign", "sin", "cos", "tanh", "sinh", "cosh", "arcsinh",
        "arctan")}},
    "OvoDecision": {"inputs": 2, "attrs": {"n_classes": "number"}},
    # Nearest neighbours (kernels/neighbors.cpp): the k nearest stored rows (output float64:
    # k distances, then k row indices), their class votes and target averages; the stored
    # rows within a radius, aggregated (RadiusNeighbors; "predict": int64 class indices; "graph":
    # the neighbours' distances then indices, -1-padded, for radius_neighbors_graph).
    "KNearest": {
        "inputs": 1,
        "attrs": {"data": "tensor:float64", "k": "number",
                  "metric": ("euclidean", "manhattan", "chebyshev", "minkowski"),
                  "p?": "number", "algorithm": ("brute", "kd_tree", "ball_tree"),
                  "row_sq_norms?": "tensor:float64", "tree_index?": "tensor:int64",
                  "tree_nodes?": "tensor:int64", "tree_radius?": "tensor:float64",
                  "tree_bounds?": "tensor:float64"},
    },
    "NeighborVote": {"inputs": 1, "attrs": {"y": "tensor:int64", "n_classes": "number",
                                            "weights": ("uniform", "distance"),
                                            "output": ("proba", "scores")}},
    "NeighborMean": {"inputs": 1, "attrs": {"y": "tensor:float64",
                                            "weights": ("uniform", "distance")}},
    "LocalOutlierScore": {"inputs": 2, "attrs": {"k_distance": "tensor:float64",
                                                 "lrd": "tensor:float64"}},
    "RadiusNeighbors": {
        "inputs": 1,
        "attrs": {"data": "tensor:float64", "radius": "number",
                  "metric": ("euclidean", "manhattan", "chebyshev", "minkowski"),
                  "p?": "number", "algorithm": ("brute", "kd_tree", "ball_tree"),
                  "row_sq_norms?": "tensor:float64", "tree_index?": "tensor:int64",
                  "tree_nodes?": "tensor:int64", "tree_radius?": "tensor:float64",
                  "tree_bounds?": "tensor:float64", "weights?": ("uniform", "distance"),
                  "output": ("mean", "proba", "predict", "graph"), "sort_results?": "bool",
                  "y?": "tensor:float64",
                  "codes?": "tensor:int64", "n_classes?": "number", "outlier_index?": "number",
                  "outlier_predict?": "number", "refuse_outliers?": "bool"},
    },
    # KNNImputer (kernels/knn_impute.cpp): nan_euclidean distances to the stored rows (NaN
    # where missing), each missing entry the weighted mean of its column's nearest donors.
    "KNNImpute": {
        "inputs": 1,
        "attrs": {"data": "tensor:float64", "row_sq_norms": "tensor:float64",
                  "col_mean": "tensor:float64", "n_neighbors": "number",
                  "weights": ("uniform", "distance"), "keep_empty?": "bool"},
    },
    # Manifold learning (kernels/manifold.cpp), from a KNearest output and X: Isomap's centred
    # geodesic kernel row (n stored-row columns), LocallyLinearEmbedding's barycenter map.
    "GeodesicKernel": {"inputs": 2, "attrs": {"dist_matrix": "tensor:float64",
                                              "fit_rows": "tensor:float64",
                                              "fit_all": "number"}},
    "Barycenter": {"inputs": 2, "attrs": {"data": "tensor:float64",
                                          "embedding": "tensor:float64", "reg": "number"}},
    # Feature expansions (kernels/expand.cpp): KBinsDiscretizer, PolynomialFeatures,
    # SplineTransformer. Outputs keep the caller's float dtype (float64 with "float64").
    "Digitize": {
        "inputs": 1,
        "attrs": {"offsets": "tensor:int64", "edges": "tensor:float64",
                  "encode": ("ordinal", "onehot"), "round_float32?": "bool", "float64?": "bool"},
    },
    "Monomials": {"inputs": 1, "attrs": {"offsets": "tensor:int64", "factors": "tensor:int64"}},
    "BSplineBasis": {
        "inputs": 1,
        "attrs": {"knots": "tensor:float64", "degree": "number",
                  "extrapolation": ("error", "constant", "linear", "continue", "periodic"),
                  "include_bias": "bool", "missing_zeros": "bool",
                  "boundary?": "tensor:float64", "limits?": "tensor:float64",
                  "ends?": "tensor:int64", "float64?": "bool"},
    },
    # Support vector machines' probability estimates (kernels/svm.cpp): libsvm's Platt
    # sigmoid of each class pair's decision value and its pairwise coupling. Output float64.
    "PairwiseCoupling": {
        "inputs": 1,
        "attrs": {"probA": "tensor:float64", "probB": "tensor:float64", "n_classes": "number"},
    },
    # Multi-class SVC/NuSVC pair decision values from the kernel values against the support
    # vectors (kernels/svm.cpp): libsvm's per-pair sums over the two classes' vectors.
    # Output float64, k(k-1)/2 columns (k = the length of counts).
    "OvoPairSums": {
        "inputs": 1,
        "attrs": {"coef": "tensor:float64", "counts": "tensor:int64", "bias": "tensor:float64"},
    },
    # Distribution transformers (kernels/distribution.cpp): QuantileTransformer,
    # PowerTransformer. Output: the input's kind.
    "QuantileTransform": {
        "inputs": 1,
        "attrs": {"quantiles": "tensor:float64", "references": "tensor:float64",
                  "output_distribution": ("uniform", "normal"), "clip_min?": "number",
                  "clip_max?": "number"},
    },
    "PowerTransform": {
        "inputs": 1,
        "attrs": {"lambdas": "tensor:float64", "method": ("yeo-johnson", "box-cox")},
    },
    # Label transformers (kernels/labels.cpp): LabelEncoder.inverse_transform, LabelBinarizer's
    # binary inverse. Output int64 class indices (index bound n_classes).
    "LabelIndex": {"inputs": 1, "attrs": {"n_classes": "number"}},
    # Mixture models (kernels/mixture.cpp): each row's log-sum-exp, scipy's arithmetic
    # (output 1 column of the input's kind); a value rounded to the caller's float type.
    "LogSumExp": {"inputs": 1, "attrs": {}},
    "AsInputType": {"inputs": 1, "attrs": {}},
    # Manhattan distances to stored rows (output float64) and SkewedChi2Sampler's
    # log(X + skewedness) (output: the input's kind) (kernels/centroids.cpp).
    "ManhattanDistances": {"inputs": 1, "attrs": {"rows": "tensor:float64"}},
    "ShiftedLog": {"inputs": 1, "attrs": {"shift": "number"}},
    # The median of groups of columns (kernels/centroids.cpp). Output: the input's kind.
    "SegmentMedian": {"inputs": 1, "attrs": {"columns": "tensor:int64",
                                             "segments": "tensor:int64"}},
    # Text vectorizers (kernels/text.cpp): token ids (the input rule "text") to the dense
    # rows of CountVectorizer/HashingVectorizer/TfidfVectorizer (float64, or int64 counts
    # with integer), or fused with a linear model's product (float64, weight's rows).
    "TextCounts": {
        "inputs": 1,
        "attrs": {"n_features": "number", "binary?": "bool", "signed?": "bool",
                  "sublinear_tf?": "bool", "float32?": "bool", "idf?": "tensor:float64",
                  "norm?": ("l1", "l2", "none"), "integer?": "bool"},
    },
    "TextLinear": {
        "inputs": 1,
        "attrs": {"n_features": "number", "binary?": "bool", "signed?": "bool",
                  "sublinear_tf?": "bool", "float32?": "bool", "idf?": "tensor:float64",
                  "norm?": ("l1", "l2", "none"), "weight": "tensor:float64",
                  "bias?": "tensor:float64"},
    },
    # TfidfTransformer on numbers (kernels/text.cpp). Output: the input's kind.
    "TfidfRows": {
        "inputs": 1,
        "attrs": {"sublinear_tf?": "bool", "idf?": "tensor:float64", "norm?": ("l1", "l2", "none")},
    },
    # Kernel approximations (kernels/sketch.cpp): AdditiveChi2Sampler's feature map (output:
    # the input's kind, c * (2 sample_steps - 1) columns) and PolynomialCountSketch's count
    # sketches and their circular convolution (output float64, n_components columns).
    "AdditiveChi2": {"inputs": 1, "attrs": {"sample_steps": "number",
                                            "sample_interval": "number"}},
    "CountSketch": {
        "inputs": 1,
        "attrs": {"n_components": "number", "gamma_sqrt": "number", "coef0_sqrt?": "number",
                  "index_hash": "tensor:int64", "bit_hash": "tensor:float64"},
    },
    # Neural networks (_native/src/nn/): float32 tensors of shape (batch, *shape) stored per
    # row; per-row shapes are attributes. Output float32.
    "NnGemm": {"inputs": 1, "attrs": {"weight": "tensor:float32", "bias?": "tensor:float32"}},
    "NnConv": {
        "inputs": 1,
        "attrs": {"weight": "tensor:float32", "bias?": "tensor:float32",
                  "in_shape": "tensor:int64", "stride_h": "number", "stride_w": "number",
                  "pad_h": "number", "pad_w": "number", "dil_h": "number", "dil_w": "number",
                  "groups": "number"},
    },
    "NnPool": {
        "inputs": 1,
        "attrs": {"kind": ("max", "avg"), "in_shape": "tensor:int64", "kernel_h": "number",
                  "kernel_w": "number", "stride_h": "number", "stride_w": "number",
                  "pad_h": "number", "pad_w": "number", "ceil_mode?": "bool",
                  "count_include_pad?": "bool"},
    },
    "NnAdaptiveAvgPool": {"inputs": 1, "attrs": {"in_shape": "tensor:int64", "out_h": "number",
                                                 "out_w": "number"}},
    "NnActivation": {
        "inputs": 1,
        "attrs": {"fn": ("relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh"),
                  "alpha?": "number"},
    },
    "NnSoftmax": {"inputs": 1, "attrs": {"outer": "number", "size": "number", "inner": "number",
                                         "log?": "bool"}},
    "NnMean": {"inputs": 1, "attrs": {"outer": "number", "size": "number", "inner": "number"}},
    "NnConcat": {"inputs": -1, "attrs": {"outer": "number", "inner": "number"}},
    "NnBinary": {
        "inputs": 2,
        "attrs": {"fn": ("add", "sub", "mul", "div"), "a_shape": "tensor:int64",
                  "b_shape": "tensor:int64", "shape": "tensor:int64"},
    },
    "NnBinaryConst": {
        "inputs": 1,
        "attrs": {"fn": ("add", "sub", "mul", "div"), "const": "tensor:float32",
                  "a_shape": "tensor:int64", "b_shape": "tensor:int64", "shape": "tensor:int64",
                  "reverse?": "bool"},
    },
    "NnReshape": {"inputs": 1, "attrs": {}},
    "NnPermute": {"inputs": 1, "attrs": {"shape": "tensor:int64", "perm": "tensor:int64"}},
    "NnLayerNorm": {"inputs": 1, "attrs": {"size": "number", "eps": "number",
                                           "weight?": "tensor:float32", "bias?": "tensor:float32"}},
    "NnEmbedding": {"inputs": 1, "attrs": {"weight": "tensor:float32"}},
    # Factorizations whose transform iterates (kernels/factorization.cpp, FORMAT.md 11.14):
    # NMF / MiniBatchNMF (a whole-batch op) and LatentDirichletAllocation. Output float64.
    "NMFTransform": {
        "inputs": 1,
        "attrs": {"components": "tensor:float64", "hht": "tensor:float64",
                  "h_sum?": "tensor:float64", "order?": "tensor:int64",
                  "solver": ("cd", "mu", "minibatch"), "name": "string", "beta": "number",
                  "gamma": "number", "tol": "number", "max_iter": "number", "l1": "number",
                  "l2": "number", "nonnegative": "bool"},
    },
    "LDATransform": {
        "inputs": 1,
        "attrs": {"exp_topic_word": "tensor:float64", "exp_doc_topic_init": "tensor:float64",
                  "doc_topic_prior": "number", "tol": "number", "max_iter": "number"},
    },
    # IterativeImputer's round-robin step (kernels/iterative.cpp): inputs (current imputation,
    # one prediction column, missing mask). Output: input 0's kind and columns.
    "ReplaceMissing": {"inputs": 3, "attrs": {"column": "number", "mask_column": "number",
                                              "clip_min?": "number", "clip_max?": "number"}},
    # KernelDensity.score_samples (kernels/neighbors.cpp): the stored tree's kernel_density.
    # Output: 1 column, float64.
    "KernelDensity": {
        "inputs": 1,
        "attrs": {"data": "tensor:float64",
                  "metric": ("euclidean", "manhattan", "chebyshev", "minkowski"),
                  "p?": "number", "algorithm": ("brute", "kd_tree", "ball_tree"),
                  "row_sq_norms?": "tensor:float64", "tree_index": "tensor:int64",
                  "tree_nodes": "tensor:int64", "tree_radius": "tensor:float64",
                  "tree_bounds": "tensor:float64",
                  "kernel": ("gaussian", "tophat", "epanechnikov", "exponential", "linear",
                             "cosine"),
                  "bandwidth": "number", "atol": "number", "rtol": "number",
                  "sum_weight": "number", "breadth_first": "bool",
                  "weights?": "tensor:float64"},
    },
    # Gaussian processes (kernels/gaussian_process.cpp): the fitted kernel as a postfix
    # program against stored rows (or its diagonal), the predictive variance through the
    # Cholesky factor, and the Laplace approximation's class probabilities.
    "GPKernel": {"inputs": 1, "attrs": {"program": "string", "params": "tensor:float64",
                                        "rows?": "tensor:float64", "diag?": "bool"}},
    "GPVariance": {"inputs": 2, "attrs": {"L": "tensor:float64", "weight?": "tensor:float64",
                                          "scale?": "tensor:float64",
                                          "output": ("std", "variance")}},
    "GPLaplaceProba": {"inputs": 2, "attrs": {"lambdas": "tensor:float64",
                                              "coefs": "tensor:float64", "offset": "number"}},
    # Sparse coding (kernels/sparse_coding.cpp): scikit-learn's sparse_encode per row against
    # a dictionary (threshold, orthogonal matching pursuit, Lasso coordinate descent, least
    # angle regression), with split_sign. Output float64, or the input's kind for "omp" without split_sign.
    "SparseEncode": {
        "inputs": 1,
        "attrs": {"algorithm": ("threshold", "omp", "lasso_cd", "lars", "lasso_lars"),
                  "dictionary": "tensor:float64",
                  "gram?": "tensor:float64", "alpha?": "number", "n_nonzero_coefs?": "number",
                  "max_iter?": "number", "tol?": "number", "positive?": "bool",
                  "split_sign?": "bool"},
    },
    # BernoulliRBM.score_samples (kernels/sparse_coding.cpp): pseudo-likelihood with one
    # feature per row flipped, drawn from numpy's legacy RandomState(seed) in row order of the
    # call. Output 1 column, float64.
    "RbmPseudoLikelihood": {
        "inputs": 1,
        "attrs": {"components": "tensor:float64", "intercept_hidden": "tensor:float64",
                  "intercept_visible": "tensor:float64", "seed": "number"},
    },
}

# Names of graph outputs that proxies expose as methods.
METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples", "predict_joint_log_proba", "inverse_transform",
           "mahalanobis")


def validate_node(op, n_inputs, attrs, n_tensors):
    """Checks a node against its op's schema.

    Parameters
    ----------
    op : str
        The op's name.
    n_inputs : int
        How many inputs the node has.
    attrs : dict
        The node's attributes (None values count as absent).
    n_tensors : int
        The number of tensors in the graph (tensor attributes index them).

    Raises
    ------
    ValueError
        Naming the problem: an unknown op, a wrong number of inputs, an attribute the op does
        not have, a required one missing, or a value of the wrong kind or outside the values a
        string attribute may take.
    """
    schema = OPS.get(op)
    if schema is None:
        raise ValueError(f"unknown op {op!r}; known ops: {sorted(OPS)}")
    if schema["inputs"] == -1:
        if n_inputs < 1:
            raise ValueError(f"op {op} takes one or more inputs, got {n_inputs}")
    elif schema["inputs"] != n_inputs:
        raise ValueError(f"op {op} takes {schema['inputs']} input(s), got {n_inputs}")
    allowed = {k.rstrip("?"): (k.endswith("?"), kind) for k, kind in schema["attrs"].items()}
    for key in attrs:
        if key not in allowed:
            raise ValueError(f"op {op} has no attribute {key!r}")
    for key, (optional, kind) in allowed.items():
        value = attrs.get(key)
        if value is None:
            if not optional:
                raise ValueError(f"op {op} needs attribute {key!r}")
            continue
        if isinstance(kind, tuple):
            if not isinstance(value, str) or value not in kind:
                raise ValueError(f"op {op}: attribute {key!r} must be one of "
                                 f"{', '.join(map(repr, kind))}, got {value!r}")
        elif kind.startswith("tensor:"):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n_tensors:
                raise ValueError(f"op {op}: attribute {key!r} must be a tensor index")
        elif kind == "bool" and not isinstance(value, bool):
            raise ValueError(f"op {op}: attribute {key!r} must be a bool")
        elif kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"op {op}: attribute {key!r} must be a number")
        elif kind == "string" and not isinstance(value, str):
            raise ValueError(f"op {op}: attribute {key!r} must be a string")
