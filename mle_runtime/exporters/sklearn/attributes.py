"""The fitted attributes a loaded scikit-learn model offers (docs/FORMAT.md, section 19): for
each exported class, the names :func:`mle_runtime.exporters.base.estimator_record` stores
when the fitted estimator has them. ``classes_``, ``n_features_in_`` and
``feature_names_in_`` of the exported model itself come from the graph; its steps and
sub-estimators store theirs here."""

from mle_runtime.exporters.sklearn.expand import ATTRIBUTES as _EXPAND
from mle_runtime.exporters.sklearn.fit_only import ATTRIBUTES as _FIT_ONLY
from mle_runtime.exporters.sklearn.impute import ATTRIBUTES as _IMPUTE
from mle_runtime.exporters.sklearn.neighbors import ATTRIBUTES as _NEIGHBORS
from mle_runtime.exporters.sklearn.linear import CLASSIFIERS, REGRESSORS

_COMMON = ("n_features_in_", "feature_names_in_")
_LINEAR = ("coef_", "intercept_", "n_iter_", "alpha_", "alphas_", "l1_ratio_", "rank_",
           "singular_", "t_", "dual_gap_")
_CLASSIFIER = ("classes_", "n_classes_", "n_outputs_")
_TREE = ("feature_importances_", "max_features_", "n_outputs_")
_FOREST = _TREE + ("estimator_", "oob_score_")

ATTRIBUTES = {
    **{name: _COMMON + _LINEAR for name in REGRESSORS},
    **{name: _COMMON + _LINEAR + ("classes_", "C_") for name in CLASSIFIERS},
    "HuberRegressor": _COMMON + _LINEAR + ("scale_", "outliers_"),
    "OneVsRestClassifier": _COMMON + ("classes_", "estimators_"),
    "StandardScaler": _COMMON + ("mean_", "scale_", "var_", "n_samples_seen_"),
    "MinMaxScaler": _COMMON + ("min_", "scale_", "data_min_", "data_max_", "data_range_",
                               "n_samples_seen_"),
    "MaxAbsScaler": _COMMON + ("max_abs_", "scale_", "n_samples_seen_"),
    "RobustScaler": _COMMON + ("center_", "scale_"),
    "Normalizer": _COMMON,
    "SimpleImputer": _COMMON + ("statistics_",),
    "DecisionTreeClassifier": _COMMON + _CLASSIFIER + _TREE,
    "ExtraTreeClassifier": _COMMON + _CLASSIFIER + _TREE,
    "DecisionTreeRegressor": _COMMON + _TREE,
    "ExtraTreeRegressor": _COMMON + _TREE,
    "RandomForestClassifier": _COMMON + _CLASSIFIER + _FOREST,
    "ExtraTreesClassifier": _COMMON + _CLASSIFIER + _FOREST,
    "RandomForestRegressor": _COMMON + _FOREST,
    "ExtraTreesRegressor": _COMMON + _FOREST,
    "GradientBoostingClassifier": _COMMON + _CLASSIFIER + (
        "feature_importances_", "n_estimators_", "n_trees_per_iteration_", "train_score_",
        "oob_scores_", "oob_score_", "max_features_", "init_"),
    "GradientBoostingRegressor": _COMMON + (
        "feature_importances_", "n_estimators_", "n_trees_per_iteration_", "train_score_",
        "oob_scores_", "oob_score_", "max_features_", "init_"),
    "HistGradientBoostingClassifier": _COMMON + _CLASSIFIER + (
        "n_iter_", "n_trees_per_iteration_", "train_score_", "validation_score_",
        "is_categorical_", "do_early_stopping_"),
    "HistGradientBoostingRegressor": _COMMON + (
        "n_iter_", "n_trees_per_iteration_", "train_score_", "validation_score_",
        "is_categorical_", "do_early_stopping_"),
    "AdaBoostClassifier": _COMMON + _CLASSIFIER + (
        "estimator_", "estimator_weights_", "estimator_errors_", "feature_importances_"),
    "AdaBoostRegressor": _COMMON + (
        "estimator_", "estimator_weights_", "estimator_errors_", "feature_importances_"),
    "BaggingClassifier": _COMMON + _CLASSIFIER + ("estimator_", "oob_score_"),
    "BaggingRegressor": _COMMON + ("estimator_", "oob_score_"),
    "IsolationForest": _COMMON + ("estimator_", "offset_", "max_samples_"),
    "DummyClassifier": _COMMON + ("classes_", "n_classes_", "class_prior_", "n_outputs_"),
    "DummyRegressor": _COMMON + ("constant_", "n_outputs_"),
    "Pipeline": (),
    # Estimators on the dense kernels.
    "MLPClassifier": _COMMON + ("classes_", "coefs_", "intercepts_", "n_layers_", "n_outputs_",
                                "out_activation_", "n_iter_", "loss_", "best_loss_",
                                "loss_curve_", "validation_scores_", "best_validation_score_",
                                "t_"),
    "MLPRegressor": _COMMON + ("coefs_", "intercepts_", "n_layers_", "n_outputs_",
                               "out_activation_", "n_iter_", "loss_", "best_loss_",
                               "loss_curve_", "validation_scores_", "best_validation_score_",
                               "t_"),
    **{name: _COMMON + ("components_", "explained_variance_", "explained_variance_ratio_",
                        "singular_values_", "mean_", "n_components_", "noise_variance_",
                        "n_samples_", "n_samples_seen_", "var_", "batch_size_")
       for name in ("PCA", "IncrementalPCA")},
    "TruncatedSVD": _COMMON + ("components_", "explained_variance_",
                               "explained_variance_ratio_", "singular_values_"),
    **{name: _COMMON + ("cluster_centers_", "labels_", "inertia_", "n_iter_", "n_steps_")
       for name in ("KMeans", "MiniBatchKMeans", "BisectingKMeans")},
    "Nystroem": _COMMON + ("components_", "component_indices_", "normalization_"),
    "RBFSampler": _COMMON + ("random_weights_", "random_offset_"),
    **{name: _COMMON + ("components_", "n_components_", "inverse_components_")
       for name in ("GaussianRandomProjection", "SparseRandomProjection")},
    # Naive Bayes, discriminant analysis, generalised linear models, isotonic regression.
    "GaussianNB": _COMMON + ("class_count_", "class_prior_", "classes_", "epsilon_", "var_",
                             "theta_"),
    **{name: _COMMON + ("class_count_", "class_log_prior_", "classes_", "feature_count_",
                        "feature_log_prob_", "feature_all_", "category_count_",
                        "n_categories_")
       for name in ("MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB")},
    "LinearDiscriminantAnalysis": _COMMON + (
        "coef_", "intercept_", "covariance_", "explained_variance_ratio_", "means_",
        "priors_", "scalings_", "xbar_", "classes_"),
    "QuadraticDiscriminantAnalysis": _COMMON + (
        "covariance_", "means_", "priors_", "rotations_", "scalings_", "classes_"),
    **{name: _COMMON + ("coef_", "intercept_", "n_iter_")
       for name in ("PoissonRegressor", "GammaRegressor", "TweedieRegressor")},
    "RANSACRegressor": _COMMON + ("estimator_", "n_trials_", "inlier_mask_",
                                  "n_skips_no_inliers_", "n_skips_invalid_data_",
                                  "n_skips_invalid_model_"),
    "IsotonicRegression": _COMMON + ("X_min_", "X_max_", "X_thresholds_", "y_thresholds_",
                                     "increasing_"),
    **_FIT_ONLY,  # estimators that predict nothing (fit_only.py)
    # Encoders, column routing (encoders.py, compose.py, preprocessing.py)
    "OneHotEncoder": _COMMON + ("categories_", "drop_idx_", "infrequent_categories_"),
    "OrdinalEncoder": _COMMON + ("categories_", "infrequent_categories_"),
    "ColumnTransformer": _COMMON + ("transformers_", "named_transformers_", "output_indices_",
                                    "sparse_output_"),
    "FeatureUnion": _COMMON,
    "FunctionTransformer": _COMMON,
    # Distribution transformers (distribution.py)
    "QuantileTransformer": _COMMON + ("n_quantiles_", "quantiles_", "references_"),
    "PowerTransformer": _COMMON + ("lambdas_",),
    "MissingIndicator": _COMMON + ("features_",),
    "Binarizer": _COMMON,
    # Feature selectors and meta-estimators (selection.py, meta.py).
    "VarianceThreshold": _COMMON + ("variances_",),
    **{name: _COMMON + ("scores_", "pvalues_") for name in (
        "SelectKBest", "SelectPercentile", "SelectFpr", "SelectFdr", "SelectFwe",
        "GenericUnivariateSelect")},
    "SelectFromModel": _COMMON + ("estimator_", "threshold_", "max_features_"),
    "RFE": _COMMON + ("estimator_", "n_features_", "ranking_", "support_", "classes_"),
    "RFECV": _COMMON + ("estimator_", "n_features_", "ranking_", "support_", "classes_",
                        "cv_results_"),
    "SequentialFeatureSelector": _COMMON + ("n_features_to_select_", "support_"),
    "VotingClassifier": _COMMON + ("estimators_", "named_estimators_", "classes_"),
    "VotingRegressor": _COMMON + ("estimators_", "named_estimators_"),
    "StackingClassifier": _COMMON + ("estimators_", "named_estimators_", "final_estimator_",
                                     "stack_method_", "classes_"),
    "StackingRegressor": _COMMON + ("estimators_", "named_estimators_", "final_estimator_",
                                    "stack_method_"),
    "CalibratedClassifierCV": _COMMON + ("classes_",),
    "FrozenEstimator": _COMMON + ("classes_",),
    **{name: _COMMON + ("best_estimator_", "best_params_", "best_score_", "best_index_",
                        "cv_results_", "n_splits_", "refit_time_", "multimetric_", "classes_",
                        "scorer_", "n_resources_", "n_candidates_", "n_iterations_",
                        "n_possible_iterations_", "n_remaining_candidates_", "min_resources_",
                        "max_resources_", "n_required_iterations_")
       for name in ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV",
                    "HalvingRandomSearchCV")},
    "SelfTrainingClassifier": _COMMON + ("estimator_", "classes_", "transduction_",
                                         "labeled_iter_", "n_iter_", "termination_condition_"),
    "FixedThresholdClassifier": _COMMON + ("estimator_", "classes_"),
    "TransformedTargetRegressor": _COMMON + ("regressor_", "transformer_"),
    "MultiOutputRegressor": _COMMON + ("estimators_",),
    "MultiOutputClassifier": _COMMON + ("estimators_", "classes_"),
    "ClassifierChain": _COMMON + ("estimators_", "classes_", "order_", "chain_method_"),
    "RegressorChain": _COMMON + ("estimators_", "order_"),
    "OneVsOneClassifier": _COMMON + ("estimators_", "classes_", "n_classes_",
                                     "pairwise_indices_"),
    "TunedThresholdClassifierCV": _COMMON + ("estimator_", "classes_", "best_threshold_",
                                             "best_score_", "cv_results_"),
    **_IMPUTE,  # TargetEncoder and the model-based imputers (impute.py)
    **_NEIGHBORS,  # nearest-neighbour estimators (neighbors.py)
    **_EXPAND,  # KBinsDiscretizer, PolynomialFeatures, SplineTransformer (expand.py)
}

from mle_runtime.exporters.sklearn.svm import ATTRIBUTES as _SVM  # noqa: E402

ATTRIBUTES.update(_SVM)

from mle_runtime.exporters.sklearn.kernel_ridge import ATTRIBUTES as _KERNEL_RIDGE  # noqa: E402
from mle_runtime.exporters.sklearn.label_propagation import (  # noqa: E402
    ATTRIBUTES as _LABEL_PROPAGATION)

ATTRIBUTES.update(_KERNEL_RIDGE)
ATTRIBUTES.update(_LABEL_PROPAGATION)

from mle_runtime.exporters.sklearn.covariance import ATTRIBUTES as _COVARIANCE  # noqa: E402
from mle_runtime.exporters.sklearn.cross_decomposition import (  # noqa: E402
    ATTRIBUTES as _CROSS_DECOMPOSITION)
from mle_runtime.exporters.sklearn.latent import ATTRIBUTES as _LATENT  # noqa: E402

ATTRIBUTES.update(_COVARIANCE)
ATTRIBUTES.update(_CROSS_DECOMPOSITION)
ATTRIBUTES.update(_LATENT)

# Label transformers and DictVectorizer (labels.py)
ATTRIBUTES.update({
    "LabelEncoder": ("classes_",),
    "LabelBinarizer": ("classes_", "y_type_", "sparse_input_"),
    "MultiLabelBinarizer": ("classes_",),
    "DictVectorizer": ("feature_names_", "vocabulary_"),
})

from mle_runtime.exporters.sklearn.centroids import ATTRIBUTES as _CENTROIDS  # noqa: E402
from mle_runtime.exporters.sklearn.feature_maps import ATTRIBUTES as _FEATURE_MAPS  # noqa: E402
from mle_runtime.exporters.sklearn.mixture import ATTRIBUTES as _MIXTURE  # noqa: E402

ATTRIBUTES.update(_CENTROIDS)
ATTRIBUTES.update(_FEATURE_MAPS)
ATTRIBUTES.update(_MIXTURE)
from mle_runtime.exporters.sklearn.text import ATTRIBUTES as _TEXT  # noqa: E402

ATTRIBUTES.update(_TEXT)
from mle_runtime.exporters.sklearn.factorization import (  # noqa: E402
    ATTRIBUTES as _FACTORIZATION)

ATTRIBUTES.update(_FACTORIZATION)
from mle_runtime.exporters.sklearn.hashing import ATTRIBUTES as _HASHING  # noqa: E402

ATTRIBUTES.update(_HASHING)
from mle_runtime.exporters.sklearn.knn_impute import ATTRIBUTES as _KNN_IMPUTE  # noqa: E402

ATTRIBUTES.update(_KNN_IMPUTE)
from mle_runtime.exporters.sklearn.density import ATTRIBUTES as _DENSITY  # noqa: E402

ATTRIBUTES.update(_DENSITY)
from mle_runtime.exporters.sklearn.gaussian_process import ATTRIBUTES as _GAUSSIAN_PROCESS  # noqa: E402

ATTRIBUTES.update(_GAUSSIAN_PROCESS)

from mle_runtime.exporters.sklearn.manifold import ATTRIBUTES as _MANIFOLD  # noqa: E402

ATTRIBUTES.update(_MANIFOLD)
from mle_runtime.exporters.sklearn.sparse_coding import ATTRIBUTES as _SPARSE_CODING  # noqa: E402

ATTRIBUTES.update(_SPARSE_CODING)
