"""chemloop: an open platform for AI-driven molecule design.

The public API (imported lazily so that ``chemloop --help`` starts fast)::

    import chemloop
    lm = chemloop.load_model()              # the shipped prior
    report = chemloop.sample(lm, 1000)      # SampleReport: molecules, validity, speed
    chemloop.pretrain(chemloop.PretrainConfig(data="my.smi", out="runs/mine"))
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "chemloop.api",
    "sample_to_csv": "chemloop.api",
    "bench_moses": "chemloop.api",
    "sample": "chemloop.model.generate",
    "LanguageModel": "chemloop.model.checkpoint",
    "pretrain": "chemloop.train.pretrain",
    "PretrainConfig": "chemloop.train.pretrain",
    "ChemloopError": "chemloop.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chemloop' has no attribute {name!r}")
