"""The fitted attributes a loaded scikit-learn model offers (docs/FORMAT.md, section 19): for
each exported class, the names :func:`mle_runtime.exporters.base.estimator_record` stores
when the fitted estimator has them. ``classes_``, ``n_features_in_`` and
``feature_names_in_`` of the exported model itself come from the graph; its steps and
sub-estimators store theirs here."""

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
}
