"""What to dock against: one of dockstring's 58 prepared targets by name, or the user's
receptor PDBQT with a search box (centre and size in Å)."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chemloop.errors import ChemloopError

_BOX_LINE = re.compile(r"^\s*(center|size)_([xyz])\s*=\s*(\S+)\s*$")


@dataclass(frozen=True)
class Target:
    """A receptor and its search box; ``key`` changes whenever the receptor file or box does."""

    name: str
    receptor: Path
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    key: str

    def vina_config(self, exhaustiveness: int) -> str:
        """The Vina config file text: the box plus the search effort."""
        axes = "xyz"
        lines = [f"center_{a} = {c:.3f}" for a, c in zip(axes, self.center, strict=True)]
        lines += [f"size_{a} = {s:.3f}" for a, s in zip(axes, self.size, strict=True)]
        lines.append(f"exhaustiveness = {exhaustiveness}")
        return "\n".join(lines) + "\n"


def _dockstring_targets_dir() -> Path:
    try:
        from dockstring.utils import get_targets_dir
    except ImportError:
        raise ChemloopError(
            "docking needs dockstring and Open Babel: pip install 'chemloop[docking]'"
        ) from None
    return get_targets_dir()


@functools.cache
def dockstring_targets() -> dict[str, Path]:
    """dockstring's target names (upper case, e.g. 'DRD2') → receptor PDBQT path."""
    folder = _dockstring_targets_dir()
    return {p.name.removesuffix("_target.pdbqt"): p for p in sorted(folder.glob("*_target.pdbqt"))}


def _read_box(conf: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    values = {}
    for line in conf.read_text().splitlines():
        match = _BOX_LINE.match(line)
        if match:
            values[match[1] + match[2]] = float(match[3])
    return tuple(values[f"center{a}"] for a in "xyz"), tuple(values[f"size{a}"] for a in "xyz")


def _key(name: str, receptor: Path, center: Sequence[float], size: Sequence[float]) -> str:
    # The receptor's content and the box identify a docking problem; paths can move.
    digest = hashlib.sha256(receptor.read_bytes())
    digest.update(repr((tuple(center), tuple(size))).encode())
    return f"{name}@{digest.hexdigest()[:12]}"


def _vector(value: object, what: str, positive: bool) -> tuple[float, float, float]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 3:
        raise ChemloopError(f"docking box {what} must be three numbers [x, y, z] in Å, got {value!r}")
    try:
        vector = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ChemloopError(
            f"docking box {what} must be three numbers [x, y, z] in Å, got {value!r}"
        ) from None
    if not all(math.isfinite(v) for v in vector) or (positive and min(vector) <= 0):
        kind = "positive" if positive else "finite"
        raise ChemloopError(f"docking box {what} must be three {kind} numbers in Å, got {value!r}")
    return vector


def resolve_target(
    target: str | None = None,
    *,
    receptor: str | Path | None = None,
    center: Sequence[float] | None = None,
    size: Sequence[float] | None = None,
) -> Target:
    """A dockstring target by name (any case), or ``receptor`` + ``center`` + ``size``.

    Raises :class:`ChemloopError` naming the bad input: an unknown target (with the known
    names), a missing or non-PDBQT receptor, a box that is not three (positive) numbers.
    """
    if (target is None) == (receptor is None):
        raise ChemloopError(
            "docking needs either target = a dockstring name (e.g. 'DRD2') or receptor = a PDBQT file"
            " with center and size, not both"
        )
    if target is not None:
        if center is not None or size is not None:
            raise ChemloopError(f"dockstring target {target!r} has its own box; drop center/size")
        known = dockstring_targets()
        name = str(target).upper()
        if name not in known:
            raise ChemloopError(f"unknown docking target {target!r}; dockstring has: {', '.join(known)}")
        box_center, box_size = _read_box(known[name].with_name(f"{name}_conf.txt"))
        return Target(name, known[name], box_center, box_size, _key(name, known[name], box_center, box_size))
    path = Path(receptor)
    if not path.is_file():
        raise ChemloopError(f"receptor file not found: {path}")
    if path.suffix.lower() != ".pdbqt":
        raise ChemloopError(f"receptor {path} must be a PDBQT file (prepared with charges and atom types)")
    if center is None or size is None:
        raise ChemloopError(
            f"receptor {path} needs a search box: center = [x, y, z] and size = [x, y, z] in Å"
        )
    box_center, box_size = _vector(center, "center", False), _vector(size, "size", True)
    path = path.resolve()
    return Target(path.stem, path, box_center, box_size, _key(path.stem, path, box_center, box_size))
