"""Reward models learned from feedback: measured values, pairwise preferences, 1–5 ratings.

``data`` reads the feedback files, ``features`` turns molecules into vectors (fingerprints
and descriptors, or the prior's embeddings), ``model`` fits and saves an ensemble of MLPs,
``evaluate`` cross-validates it and compares the two kinds of features.
"""
