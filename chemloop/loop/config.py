"""A campaign's configuration (TOML), validated once with errors that name the key.

[campaign]
batch = 12                 # molecules to make and test per round
acquisition = "ucb"        # greedy | ucb | ei | thompson
seed_data = "seed.csv"     # optional: smiles,value measured before round 1

[reward]
features = "fingerprints"  # or "prior": the foundation model's embeddings

[[score.components]]       # optional: constraints and terms beside the learned reward
type = "alerts"
filter = true
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chemloop.config_files import read_toml, validate
from chemloop.loop.acquisition import Acquisition
from chemloop.score.config import ScoreConfig


class CampaignSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch: int = Field(12, ge=1, le=1000, description="molecules proposed per round")
    acquisition: Acquisition = Field(
        "ucb", description="how a batch is picked from the candidates' predicted mean and spread"
    )
    kappa: float = Field(1.0, ge=0, description="ucb: weight of the uncertainty; rl: exploration bonus")
    max_similarity: float | None = Field(0.7, gt=0, le=1, description="Tanimoto cap within a batch")
    candidates: int = Field(2000, ge=10, description="molecules generated per propose")
    rl_steps: int = Field(20, ge=0, description="agent updates against the current reward per propose")
    rl_batch_size: int = Field(64, ge=1, description="molecules sampled per agent update")
    min_measurements: int = Field(5, ge=4, description="values needed before a reward model is fitted")
    finetune_epochs: int = Field(
        5,
        ge=0,
        description="epochs of fine-tuning the prior on the measured molecules (the better ones drawn more "
        "often) before the RL steps, so proposals start from the series; 0: off",
    )
    trust_similarity: float | None = Field(
        0.35,
        gt=0,
        le=1,
        description="trust region: keep candidates whose nearest measured molecule is at least this "
        "similar (ECFP4 Tanimoto); null: no trust region (scaffold hopping)",
    )
    trust_scaffold: bool = Field(
        True, description="trust region: a candidate on a measured molecule's Murcko scaffold stays in it"
    )
    model: str = Field("prior", description="the prior the agent starts from")
    seed: int = Field(0, description="random seed of generation (each round adds its number)")
    seed_data: Path | None = Field(None, description="CSV smiles,value[,std] imported as round 0")


class RewardSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: Literal["fingerprints", "prior"] = Field(
        "fingerprints",
        description="molecule features: Morgan counts + RDKit descriptors, or the prior's embeddings",
    )
    ensemble: int = Field(5, ge=2, description="members; their spread is the uncertainty")
    hidden: int = Field(256, ge=1, description="hidden width of each member")
    epochs: int = Field(100, ge=1, description="passes over the training rows")
    cv_folds: int = Field(5, ge=0, description="cross-validation after each refit, for status; 0 skips it")


class CampaignConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign: CampaignSection = Field(
        default_factory=CampaignSection, description="rounds and batch selection"
    )
    reward: RewardSection = Field(
        default_factory=RewardSection, description="the reward model fitted on results"
    )
    score: ScoreConfig | None = Field(None, description="constraints and terms beside the learned reward")


def load_campaign_config(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign TOML; relative paths are relative to the file."""
    path = Path(path)
    data = read_toml(path, "campaign config")
    section = data.get("campaign", {})
    if isinstance(section, dict) and "seed_data" in section:
        section["seed_data"] = str((path.parent / section["seed_data"]).resolve())
    return validate(CampaignConfig, data, f"campaign config {path}")
