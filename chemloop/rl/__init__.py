"""Policy optimization against a score: REINVENT update, replay memory, diversity filter."""

from chemloop.rl.diversity import ScaffoldDiversityFilter
from chemloop.rl.memory import ReplayMemory
from chemloop.rl.reinvent import ReinventAgent, StepReport

__all__ = ["ReinventAgent", "ReplayMemory", "ScaffoldDiversityFilter", "StepReport"]
