"""chemloop: an open platform for AI-driven molecule design.

The public API (imported lazily so that ``chemloop --help`` starts fast)::

    import chemloop
    lm = chemloop.load_model()              # the shipped prior
    report = chemloop.sample(lm, 1000)      # SampleReport: molecules, validity, speed
    chemloop.decorate(lm, "c1ccc2[nH]ccc2c1*", 1000)   # prompts: a scaffold, or chemloop.link
    chemloop.pretrain(chemloop.PretrainConfig(data="my.smi", out="runs/mine"))
    chemloop.finetune(chemloop.FinetuneConfig(data="series.smi", out="runs/series"))
    chemloop.align(model="prior", pairs="pairs.csv", out="runs/aligned")   # DPO on preferred,other pairs
    chemloop.compress("prior", "int8", "runs/prior-int8")   # a smaller, faster checkpoint folder
    chemloop.score_molecules(["CCO"], ["qed", "sa_score"])   # the scoring every face offers

What the HTTP API, the web app and the MCP server offer is in :mod:`chemloop.services`, each
operation a function of a :class:`~chemloop.services.workspace.Workspace`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "chemloop.api",
    "sample_to_csv": "chemloop.api",
    "decorate": "chemloop.api",
    "link": "chemloop.api",
    "bench_moses": "chemloop.api",
    "compress": "chemloop.api",
    "align": "chemloop.api",
    "AlignConfig": "chemloop.services.align",
    "sample": "chemloop.model.generate",
    "LanguageModel": "chemloop.model.checkpoint",
    "pretrain": "chemloop.train.pretrain",
    "PretrainConfig": "chemloop.train.pretrain",
    "finetune": "chemloop.train.finetune",
    "FinetuneConfig": "chemloop.train.finetune",
    "ChemloopError": "chemloop.errors",
    "properties": "chemloop.services.molecules",
    "score_molecules": "chemloop.services.scoring",
    "Workspace": "chemloop.services.workspace",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chemloop' has no attribute {name!r}")
