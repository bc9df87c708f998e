"""A persistent docking cache: one SQLite file, so a molecule is never docked twice.

Keyed by (target key, canonical SMILES, exhaustiveness, seed); the target key hashes the
receptor file and box. Failures that will repeat (a molecule that cannot be prepared) are
stored too; timeouts and crashed workers are not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from chemloop.dock.call import DockResult
from chemloop.errors import ChemloopError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docking (
    target TEXT NOT NULL,
    smiles TEXT NOT NULL,
    exhaustiveness INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    score REAL,
    pose_sdf TEXT,
    error TEXT,
    PRIMARY KEY (target, smiles, exhaustiveness, seed)
)
"""


class DockCache:
    """Docking results stored in ``folder/docking.sqlite``."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / "docking.sqlite"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise ChemloopError(f"docking cache {self.path} cannot be opened: {err}") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)  # several runs may share one cache

    def get(
        self, target: str, smiles: Iterable[str], exhaustiveness: int, seed: int
    ) -> dict[str, DockResult]:
        """The stored results among ``smiles`` (canonical), by SMILES."""
        wanted = list(dict.fromkeys(smiles))
        found: dict[str, DockResult] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(wanted), 500):  # stay under SQLite's limit on query parameters
                chunk = wanted[start : start + 500]
                rows = db.execute(
                    "SELECT smiles, score, pose_sdf, error FROM docking"
                    " WHERE target = ? AND exhaustiveness = ? AND seed = ?"
                    f" AND smiles IN ({', '.join('?' * len(chunk))})",
                    [target, exhaustiveness, seed, *chunk],
                )
                found.update({row[0]: DockResult(*row) for row in rows})
        return found

    def put(self, target: str, result: DockResult, exhaustiveness: int, seed: int) -> None:
        """Store ``result`` unless it is transient (a timeout may not happen next time)."""
        if result.transient:
            return
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO docking VALUES (?, ?, ?, ?, ?, ?, ?)",
                [target, result.smiles, exhaustiveness, seed, result.score, result.pose_sdf, result.error],
            )
