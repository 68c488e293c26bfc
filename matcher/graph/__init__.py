"""The collaboration graph and its local link scores."""

from matcher.graph.graph import CollaborationGraph, FloatArray, IntArray, Rows
from matcher.graph.live import LiveGraph
from matcher.graph.scores import Neighbourhood, two_hop

__all__ = [
    "CollaborationGraph",
    "FloatArray",
    "IntArray",
    "LiveGraph",
    "Neighbourhood",
    "Rows",
    "two_hop",
]
