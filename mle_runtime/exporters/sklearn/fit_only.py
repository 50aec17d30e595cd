"""Estimators that predict nothing: their results are fitted attributes (``labels_``,
``embedding_``, ``core_sample_indices_``, ...). A loaded one
offers those attributes, read-only, and its parameters; ``predict``/``transform`` raise
AttributeError as in scikit-learn, and ``fit``, ``fit_predict``, ``fit_transform`` raise
ReadOnlyModelError. The graph has no nodes and no outputs (format 1.6, docs/FORMAT.md 9.4);
what the file holds is the estimator record (section 19).

LocalOutlierFactor(novelty=False) also predicts nothing on new data; it is stored the same
way by its exporter (neighbors.py), which stores novelty=True with its predictions."""

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head, estimator_kind
from mle_runtime.exporters.sklearn.common import register

_CLUSTER = ("labels_",)
ATTRIBUTES = {
    "DBSCAN": _CLUSTER + ("core_sample_indices_", "components_"),
    "HDBSCAN": _CLUSTER + ("probabilities_", "centroids_", "medoids_"),
    "OPTICS": _CLUSTER + ("reachability_", "ordering_", "core_distances_", "predecessor_",
                          "cluster_hierarchy_"),
    "AgglomerativeClustering": _CLUSTER + ("n_clusters_", "n_leaves_",
                                           "n_connected_components_", "children_",
                                           "distances_"),
    "SpectralClustering": _CLUSTER + ("affinity_matrix_",),
    "SpectralBiclustering": ("rows_", "columns_", "row_labels_", "column_labels_",
                             "biclusters_"),
    "SpectralCoclustering": ("rows_", "columns_", "row_labels_", "column_labels_",
                             "biclusters_"),
    "SpectralEmbedding": ("embedding_", "affinity_matrix_", "n_neighbors_"),
    "TSNE": ("embedding_", "kl_divergence_", "n_iter_", "learning_rate_"),
    "MDS": ("embedding_", "stress_", "dissimilarity_matrix_", "n_iter_"),
    "ClassicalMDS": ("embedding_", "eigenvalues_", "dissimilarity_matrix_"),
}
ATTRIBUTES = {name: ("n_features_in_", "feature_names_in_") + names
              for name, names in ATTRIBUTES.items()}


@register(*ATTRIBUTES, kind="predictor")
def fit_only(est, ctx, x):
    name = type(est).__name__
    if len(ctx.steps) != 1:
        raise UnsupportedModelError(f"{name} predicts nothing, so it cannot be a pipeline "
                                    "step; store it on its own")
    kind = estimator_kind(est)
    return Head({}, kind if isinstance(kind, str) else None)
