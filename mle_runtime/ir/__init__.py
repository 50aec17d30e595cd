"""The framework-free intermediate representation exporters produce and the writer stores."""

from mle_runtime.ir.graph import Graph, Node

__all__ = ["Graph", "Node"]
