"""A constitution: medicinal-chemistry principles a chemist can read, each checked by a tool.

A constitution is a TOML file of ``[[principle]]`` tables, in order of importance. Each has an
``id``, the ``text`` a chemist reads, the ``source`` it rests on, and exactly one check:

- ``absent = ["SMARTS", …]``: violated where any pattern matches;
- ``alerts = "PAINS" | "BRENK"``: violated where any alert of RDKit's catalogue matches;
- ``property = NAME`` with ``min`` and/or ``max``: violated outside the window (NAME is a
  descriptor of :mod:`chemloop.chem.descriptors` or one of :data:`EXTRA_PROPERTIES`);
- ``judged = true``: no computable check; only an external judge can apply it.

Computable checks are exact tools, not guesses: a rule judge applies them (judges.py), and an
LLM judge is given their verdicts beside the text.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from rdkit import Chem

from chemloop.chem.alerts import ALERT_CATALOGS, alert_catalog
from chemloop.chem.descriptors import DESCRIPTORS, stereocentres
from chemloop.chem.mol import neutral_form
from chemloop.config_files import read_toml, validate
from chemloop.errors import ChemloopError

DEFAULT_CONSTITUTION = Path(__file__).with_name("medchem.toml")


def _unassigned_stereocentres(mol: Chem.Mol) -> int:
    return sum(1 for _, label in stereocentres(mol) if label == "?")


def _medium_rings(mol: Chem.Mol) -> int:
    """Rings of 8 to 11 atoms: strained and hard to make, unlike 5-7 rings and macrocycles."""
    return sum(1 for ring in mol.GetRingInfo().AtomRings() if 8 <= len(ring) <= 11)


EXTRA_PROPERTIES: dict[str, Callable[[Chem.Mol], float]] = {
    "unassigned_stereocentres": _unassigned_stereocentres,
    "medium_rings": _medium_rings,
}


def property_function(name: str) -> Callable[[Chem.Mol], float]:
    if name in EXTRA_PROPERTIES:
        return EXTRA_PROPERTIES[name]
    return DESCRIPTORS[name].function


class Principle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="short, unique, lower-case-with-dashes")
    text: str = Field(min_length=1, description="the principle as a chemist reads it")
    source: str = Field("", description="the literature or practice it rests on")
    absent: list[str] | None = Field(None, min_length=1, description="SMARTS that must not match")
    alerts: str | None = Field(None, description="an RDKit alert catalogue: PAINS or BRENK")
    property: str | None = Field(None, description="a descriptor kept within min/max")
    min: float | None = None
    max: float | None = None
    judged: bool = Field(False, description="no computable check: applied by an external judge only")

    @field_validator("absent")
    @classmethod
    def _smarts_parse(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or []:
            if Chem.MolFromSmarts(pattern) is None:
                raise ValueError(f"invalid SMARTS {pattern!r}")
        return patterns

    @field_validator("alerts")
    @classmethod
    def _known_catalogue(cls, name: str | None) -> str | None:
        if name is not None and name.upper() not in ALERT_CATALOGS:
            raise ValueError(f"unknown alert catalogue {name!r}; choose from {', '.join(ALERT_CATALOGS)}")
        return None if name is None else name.upper()

    @field_validator("property")
    @classmethod
    def _known_property(cls, name: str | None) -> str | None:
        known = [*DESCRIPTORS, *EXTRA_PROPERTIES]
        if name is not None and name not in known:
            raise ValueError(f"unknown property {name!r}; choose from {', '.join(known)}")
        return name

    @model_validator(mode="after")
    def _one_check(self) -> Principle:
        checks = [k for k in ("absent", "alerts", "property") if getattr(self, k) is not None]
        if self.judged:
            checks.append("judged")
        if len(checks) != 1:
            raise ValueError(
                f"principle {self.id!r} needs exactly one check (absent, alerts, property or judged = true), "
                f"has {len(checks)}"
            )
        if self.property is not None and self.min is None and self.max is None:
            raise ValueError(f"principle {self.id!r}: property {self.property!r} needs min or max")
        if self.property is None and (self.min is not None or self.max is not None):
            raise ValueError(f"principle {self.id!r}: min/max belong to a property check")
        return self

    @builtins.property  # the field ``property`` shadows the builtin inside this class
    def computable(self) -> bool:
        return not self.judged

    @cached_property
    def _patterns(self) -> list[Chem.Mol]:
        return [Chem.MolFromSmarts(p) for p in self.absent or []]

    def violation(self, mol: Chem.Mol) -> str | None:
        """Why ``mol`` violates this principle (one short phrase), or None; None for judged ones.
        The compound is judged, not its charge state: ``mol``'s neutral form. The default prior
        writes pH-7 forms, and as written an ammonium raises the SA score by 1-1.7 and makes its ring
        carbon an unassigned stereocentre: of 4,699 valid samples of the prior, 298 broke
        'synthesizable' as written against 50 as neutral compounds, 234 'assigned-stereo' against 143."""
        return self._violation(neutral_form(mol))

    def _violation(self, mol: Chem.Mol) -> str | None:
        if self.absent is not None:
            for text, pattern in zip(self.absent, self._patterns, strict=True):
                if mol.HasSubstructMatch(pattern):
                    return f"matches {text}"
            return None
        if self.alerts is not None:
            matches = alert_catalog([self.alerts]).GetMatches(mol)
            return f"{self.alerts} alert: {matches[0].GetDescription()}" if matches else None
        if self.property is not None:
            value = property_function(self.property)(mol)
            if self.min is not None and value < self.min:
                return f"{self.property} {value:.3g} < {self.min:g}"
            if self.max is not None and value > self.max:
                return f"{self.property} {value:.3g} > {self.max:g}"
        return None


class Constitution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    principle: list[Principle] = Field(min_length=1, description="in order of importance")

    @model_validator(mode="after")
    def _unique_ids(self) -> Constitution:
        ids = [p.id for p in self.principle]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"principle ids repeat: {', '.join(repeated)}")
        return self

    @property
    def principles(self) -> list[Principle]:
        return self.principle

    def get(self, principle_id: str) -> Principle:
        for principle in self.principle:
            if principle.id == principle_id:
                return principle
        raise ChemloopError(f"constitution {self.name!r} has no principle {principle_id!r}")

    def violations(self, mol: Chem.Mol) -> dict[str, str]:
        """Every computable principle ``mol`` violates: ``{id: why}``, in the constitution's order."""
        found = {}
        compound = neutral_form(mol)  # once, not once per principle
        for principle in self.principle:
            why = principle._violation(compound)
            if why is not None:
                found[principle.id] = why
        return found


def load_constitution(path: str | Path | None = None) -> Constitution:
    """Read and validate a constitution TOML (the shipped medicinal-chemistry one by default)."""
    path = Path(path) if path is not None else DEFAULT_CONSTITUTION
    if not path.is_file():
        raise ChemloopError(f"constitution file not found: {path}")
    return validate(Constitution, read_toml(path, "constitution"), f"constitution {path}")


@lru_cache(maxsize=1)
def default_constitution() -> Constitution:
    """The shipped medicinal-chemistry constitution, read once (campaigns consult it every round)."""
    return load_constitution()
