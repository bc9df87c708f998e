"""Scoring: components by name, transforms to [0, 1], aggregation.

The config (``chemloop.score.config``), the scorer with its cache and oracle budget
(``chemloop.score.scorer``) and the plugin kinds (docs/components.md) build on these.
"""

from chemloop.score.aggregate import weighted_arithmetic_mean, weighted_geometric_mean
from chemloop.score.registry import NoScore, available_components, component, get_component, run_component
from chemloop.score.transforms import TRANSFORMS

__all__ = [
    "NoScore",
    "TRANSFORMS",
    "available_components",
    "component",
    "get_component",
    "run_component",
    "weighted_arithmetic_mean",
    "weighted_geometric_mean",
]
