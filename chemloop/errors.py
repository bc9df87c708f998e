"""The base error of chemloop: every error meant for a user derives from it.

The CLI catches :class:`ChemloopError` and prints its message without a traceback.
"""


class ChemloopError(Exception):
    """An error caused by user input (a file, a SMILES, a config value), with a clear message."""
