"""Policy optimization against a score: REINVENT and KL-penalized REINFORCE updates,
replay memory, diversity filter."""

from chemloop.rl.agent import Agent, StepReport
from chemloop.rl.diversity import ScaffoldDiversityFilter
from chemloop.rl.memory import ReplayMemory

__all__ = ["Agent", "ReplayMemory", "ScaffoldDiversityFilter", "StepReport"]
