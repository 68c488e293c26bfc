"""The collaboration graph and its link scores."""

from matcher.graph.graph import (
    CollaborationGraph,
    CommonPartner,
    FloatArray,
    IntArray,
    Link,
    Rows,
)

__all__ = ["CollaborationGraph", "CommonPartner", "FloatArray", "IntArray", "Link", "Rows"]
