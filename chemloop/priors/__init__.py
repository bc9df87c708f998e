"""Shipped model checkpoints (data only; see each folder's MODEL_CARD.md)."""
