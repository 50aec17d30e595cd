"""What every framework's exporter shares: the class check (with its refusal of subclasses),
the metadata header, and the :class:`Head` an estimator exports to. Imports no framework.
"""

from dataclasses import dataclass

from mle_runtime import _version
from mle_runtime.errors import UnsupportedModelError


def top_package(cls):
    """The top-level package a class is defined in ("sklearn" for sklearn.linear_model...)."""
    return (cls.__module__ or "").split(".")[0]


def check_class(obj, framework, classes, label=None):
    """Refuses ``obj`` unless its class is one of ``classes`` (names) defined by the package
    ``framework``; returns the class name.

    A subclass of a supported class is refused too, naming its base: its methods may differ
    from the base class's, so exporting the base's rules could silently change predictions.
    ``label``: how messages name the framework (default ``framework``).
    """
    cls = type(obj)
    label = label or framework
    if top_package(cls) == framework and cls.__name__ in classes:
        return cls.__name__
    base = next((c for c in cls.__mro__[1:]
                 if top_package(c) == framework and c.__name__ in classes), None)
    if base is not None:
        raise UnsupportedModelError(
            f"{cls.__module__}.{cls.__qualname__} subclasses {label}'s {base.__name__}; its "
            "methods may differ from the base class, so it is not exported. Export a plain "
            f"{base.__name__} instead.")
    raise UnsupportedModelError(
        f"{label} class {cls.__name__} is not supported yet. Supported: "
        f"{', '.join(sorted(classes))}.")


def header(framework, framework_version, model_class, **keys):
    """The metadata every exported model starts with (descriptive only: provenance and
    versions), followed by ``keys``."""
    meta = {
        "mle_runtime_version": _version.__version__,
        "framework": framework,
        "framework_version": framework_version,
        "model_class": f"{framework}.{model_class}",
    }
    meta.update(keys)
    return meta


@dataclass
class Head:
    """What exporting an estimator produces: graph outputs by method name."""

    outputs: dict  # method name -> (value name, ravel)
    estimator_type: str  # "classifier", "regressor", "transformer", ...
    classes: object = None  # classes_ for classifiers (a list of arrays for multi-output)
    splits: dict = None  # method -> column counts: the method returns a list of column blocks
    meta: dict = None  # further metadata keys the final step needs (e.g. "keyword_outputs")
