"""Corpora and batching."""

from chemloop.data.batching import TokenizedCorpus
from chemloop.data.corpus import Corpus, CorpusError, load_corpus, load_moses

__all__ = ["Corpus", "CorpusError", "TokenizedCorpus", "load_corpus", "load_moses"]
