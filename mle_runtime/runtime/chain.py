"""A scikit-learn Pipeline stored in parts (docs/FORMAT.md, 17.6): what a ``chain`` node loads
as.

``dump(..., allow_pickle=True)`` of a Pipeline that cannot be stored natively as a whole keeps
every run of steps that can as one native model and pickles only the other steps. Loading the
file gives a :class:`PipelineChain`: it runs its parts in order, as the Pipeline ran its steps
(each part but the last transforms; the last one predicts, transforms or scores), and offers
the methods and attributes of the Pipeline that its last part offers.
"""

from mle_runtime.errors import ReadOnlyModelError


class _LastStepMethod:
    """A method of the last part, applied after the other parts' ``transform`` (so
    ``transform`` is every part's in turn); absent
    (``AttributeError``, so ``hasattr`` is False) when the last part does not have it, as
    scikit-learn's Pipeline does."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        last = obj._parts[-1][1]
        fn = getattr(last, self.name, None)
        if fn is None:
            raise AttributeError(f"This 'PipelineChain' has no attribute '{self.name}' (its "
                                 f"last step, {_describe(last)}, does not provide it)")
        name = self.name

        def method(X, **params):
            return getattr(last, name)(obj._through(X), **params)

        method.__name__ = name
        method.__qualname__ = f"PipelineChain.{name}"
        return method


def _describe(part):
    return type(part).__name__ if not hasattr(part, "_summary") else \
        f"the native model {part._summary()}"


class PipelineChain:
    """A Pipeline whose steps are native models (runs of the original steps) and unpickled
    steps, run in order.

    Attributes
    ----------
    steps : list of (str, object)
        The parts, in order: a native model (:class:`~mle_runtime.runtime.proxies.MLEModel`)
        for each run of steps stored natively, named by the original names of its steps
        joined with ``+``, and each other step as unpickled, under its original name.
    step_names : list of list of str
        The original step names each part covers.
    """

    predict = _LastStepMethod()
    predict_proba = _LastStepMethod()
    predict_log_proba = _LastStepMethod()
    decision_function = _LastStepMethod()
    score_samples = _LastStepMethod()
    transform = _LastStepMethod()

    def __init__(self, parts):
        self._parts = [("+".join(names), part) for names, part in parts]
        self.step_names = [list(names) for names, _ in parts]

    @property
    def steps(self):
        return list(self._parts)

    @property
    def named_steps(self):
        return dict(self._parts)

    def __len__(self):
        return len(self._parts)

    def __getitem__(self, ind):
        if isinstance(ind, slice):
            if ind.step not in (None, 1):
                raise ValueError("PipelineChain slicing only supports a step of 1")
            sub = list(zip(self.step_names, (p for _, p in self._parts)))[ind]
            return PipelineChain(sub)
        if isinstance(ind, str):
            return self.named_steps[ind]
        return self._parts[ind][1]

    def _through(self, X):
        for _, part in self._parts[:-1]:
            X = part.transform(X)
        return X

    @property
    def score(self):
        last = self._parts[-1][1]
        if not hasattr(last, "score"):
            raise AttributeError(f"This 'PipelineChain' has no attribute 'score' (its last "
                                 f"step, {_describe(last)}, does not provide it)")

        def score(X, y=None, sample_weight=None, **params):
            if sample_weight is not None:
                params["sample_weight"] = sample_weight
            return last.score(self._through(X), y, **params)

        return score

    @property
    def classes_(self):
        return self._parts[-1][1].classes_

    @property
    def n_features_in_(self):
        return self._parts[0][1].n_features_in_

    @property
    def feature_names_in_(self):
        return self._parts[0][1].feature_names_in_

    @property
    def _estimator_type(self):
        return getattr(self._parts[-1][1], "_estimator_type", None)

    @property
    def __sklearn_tags__(self):
        last = self._parts[-1][1]
        tags = getattr(last, "__sklearn_tags__", None)
        if tags is None:
            raise AttributeError("'PipelineChain' has no attribute '__sklearn_tags__' (its "
                                 "last step has none)")
        return tags

    def __sklearn_is_fitted__(self):
        return True

    def fit(self, *args, **kwargs):
        """Refused: a loaded Pipeline is read-only."""
        raise ReadOnlyModelError(
            "this Pipeline was loaded by mle_runtime in parts (native models and unpickled "
            "steps) and is read-only: fit cannot change it. To train a new one, build the "
            "Pipeline again (or keep the original, or its joblib file).")

    def __repr__(self):
        inner = ", ".join(f"{name!r}: {_describe(part)}" for name, part in self._parts)
        return f"<mle_runtime PipelineChain [{inner}]>"
