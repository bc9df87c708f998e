"""Compression of a chemical language model for cheaper sampling: bf16 and int8 weights,
one-shot pruning (magnitude, SparseGPT, structured heads and MLP units) and distillation into a
smaller student. Each writes an ordinary checkpoint folder (``chemloop compress``)."""

from chemloop.compression.options import METHODS, CompressError
from chemloop.compression.run import Compressed, compress

__all__ = ["METHODS", "CompressError", "Compressed", "compress"]
