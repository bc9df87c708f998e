"""Policy updates: each maps log-likelihoods and rewards of a batch to a loss.

The batch holds the agent's fresh samples followed by replayed molecules (REINFORCE's ``fresh``
says how many rows are fresh: its baseline is their mean). Both updates keep the agent near the
prior, in different ways.
"""

from __future__ import annotations

import torch


def reinvent_loss(
    agent_logp: torch.Tensor,
    prior_logp: torch.Tensor,
    rewards: torch.Tensor,
    *,
    sigma: float,
    barrier: float = 0.0,
) -> torch.Tensor:
    """REINVENT (Olivecrona et al. 2017): regress log π(x) onto log p_prior(x) + σ·r(x).

    With σ·r in the hundreds the target lies far above log π = 0, so the agent drives the
    likelihood of its best sequences towards 1 and stops writing anything new. ``barrier``
    adds REINVENT's own regularizer against that (its original code and PMO's REINVENT use
    5e3): barrier·mean(−1 / log π(x)), which grows without bound as a sequence nears certainty.
    """
    target = prior_logp + sigma * rewards
    loss = (target - agent_logp).pow(2).mean()
    if barrier:
        loss = loss + barrier * (-1.0 / agent_logp.clamp(max=-1e-3)).mean()
    return loss


def reinforce_kl_loss(
    agent_logp: torch.Tensor, prior_logp: torch.Tensor, rewards: torch.Tensor, *, beta: float, fresh: int
) -> torch.Tensor:
    """REINFORCE with a mean baseline on the KL-shaped reward r(x) − β·(log π(x) − log p_prior(x)).

    The shaping term is the per-sample estimate of KL(π ‖ prior), the penalty of RLHF
    (Ziegler et al. 2019). The baseline is the fresh samples' mean shaped reward, so
    replayed molecules (which score high) push their likelihood up, as in Augmented Memory.
    """
    shaped = rewards - beta * (agent_logp.detach() - prior_logp)
    advantage = shaped - shaped[:fresh].mean()
    return -(advantage * agent_logp).mean()
