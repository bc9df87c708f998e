"""The chemical language model: GPT decoder, sampling, likelihoods, checkpoints."""

from chemloop.model.checkpoint import LanguageModel, load, save
from chemloop.model.gpt import GPT, GPTConfig, KVCache
from chemloop.model.likelihood import log_likelihood
from chemloop.model.sampling import sample_ids

__all__ = ["GPT", "GPTConfig", "KVCache", "LanguageModel", "load", "log_likelihood", "sample_ids", "save"]
