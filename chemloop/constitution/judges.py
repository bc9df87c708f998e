"""Judges compare two molecules under a constitution: which is preferred, by which principle, why.

- :class:`RuleJudge` applies the computable principles in the constitution's order: the first
  one that exactly one of the two molecules violates decides for the other. Exact and free.
- :class:`CommandJudge` runs any command (an LLM command-line tool behind a small wrapper) with
  one JSON request on stdin and reads one JSON answer from stdout; the protocol is below and
  in docs/constitution.md. The request carries every principle's text and, for the
  computable ones, the exact verdicts of the tools, so the judge does not have to guess them.

Request (stdin)::

    {"protocol": "chemloop-judge/1",
     "constitution": {"name": "...", "principles": [{"id", "text", "source", "computable"}]},
     "pairs": [{"a": SMILES, "b": SMILES, "violations_a": {id: why}, "violations_b": {id: why}}]}

Answer (stdout)::

    {"judgements": [{"preferred": "a" | "b" | null, "principle": id | null, "reason": "one line"}]}

one judgement per pair, in order; ``null`` means the judge cannot tell them apart.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from rdkit import Chem

from chemloop.chem.mol import neutral_form, to_mol
from chemloop.constitution.principles import Constitution
from chemloop.errors import ChemloopError

PROTOCOL = "chemloop-judge/1"
MAX_REASON = 300  # characters kept of a judge's reason: one line for people


@dataclass(frozen=True)
class Judgement:
    preferred: str | None  # "a", "b" or None (no principle tells them apart)
    principle: str | None
    reason: str


class Judge(Protocol):
    name: str

    def judge(self, pairs: Sequence[tuple[str, str]]) -> list[Judgement]: ...


def _mols(pairs: Sequence[tuple[str, str]]) -> list[tuple[Chem.Mol, Chem.Mol]]:
    return [(to_mol(a, "pair molecule a"), to_mol(b, "pair molecule b")) for a, b in pairs]


class RuleJudge:
    """The computable principles, in order: the first that separates the two molecules decides."""

    def __init__(self, constitution: Constitution) -> None:
        self.constitution = constitution
        self.name = "rules"

    def judge(self, pairs: Sequence[tuple[str, str]]) -> list[Judgement]:
        # Each molecule's neutral form (what principles judge) once, not once per principle.
        return [self._one(neutral_form(a), neutral_form(b)) for a, b in _mols(pairs)]

    def _one(self, a: Chem.Mol, b: Chem.Mol) -> Judgement:
        for principle in self.constitution.principles:
            if not principle.computable:
                continue
            why_a, why_b = principle.violation(a), principle.violation(b)
            if (why_a is None) == (why_b is None):
                continue
            loser, why = ("A", why_a) if why_a is not None else ("B", why_b)
            return Judgement(
                "b" if loser == "A" else "a", principle.id, f"{loser} violates {principle.id}: {why}"
            )
        return Judgement(None, None, "no computable principle tells them apart")


class CommandJudge:
    """An external judge: ``command`` reads the request as JSON on stdin, answers JSON on stdout."""

    def __init__(
        self, constitution: Constitution, command: str, timeout: float = 600.0, batch: int = 20
    ) -> None:
        if not command.strip():
            raise ChemloopError("judge command is empty")
        self.constitution = constitution
        self.command = shlex.split(command)
        self.timeout = timeout
        self.batch = batch
        self.name = f"command:{self.command[0].rsplit('/', 1)[-1]}"

    def request(self, pairs: Sequence[tuple[str, str]]) -> dict:
        principles = [
            {"id": p.id, "text": p.text, "source": p.source, "computable": p.computable}
            for p in self.constitution.principles
        ]
        return {
            "protocol": PROTOCOL,
            "constitution": {"name": self.constitution.name, "principles": principles},
            "pairs": [
                {
                    "a": Chem.MolToSmiles(a),
                    "b": Chem.MolToSmiles(b),
                    "violations_a": self.constitution.violations(a),
                    "violations_b": self.constitution.violations(b),
                }
                for a, b in _mols(pairs)
            ],
        }

    def judge(self, pairs: Sequence[tuple[str, str]]) -> list[Judgement]:
        judged: list[Judgement] = []
        for start in range(0, len(pairs), self.batch):
            judged += self._run(pairs[start : start + self.batch])
        return judged

    def _run(self, pairs: Sequence[tuple[str, str]]) -> list[Judgement]:
        where = f"judge command {shlex.join(self.command)!r}"
        try:
            done = subprocess.run(
                self.command,
                input=json.dumps(self.request(pairs)),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise ChemloopError(f"{where}: not found") from None
        except subprocess.TimeoutExpired:
            raise ChemloopError(f"{where}: no answer within {self.timeout:g} s") from None
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no message"]
            raise ChemloopError(f"{where} exited with status {done.returncode}: {tail[0]}")
        try:
            answer = json.loads(done.stdout)
            items = answer["judgements"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ChemloopError(f"{where}: stdout is not JSON with a 'judgements' list") from None
        if not isinstance(items, list) or len(items) != len(pairs):
            raise ChemloopError(f"{where}: expected {len(pairs)} judgements, got {_count(items)}")
        return [self._judgement(item, i, where) for i, item in enumerate(items)]

    def _judgement(self, item: object, index: int, where: str) -> Judgement:
        if not isinstance(item, dict) or item.get("preferred") not in ("a", "b", None):
            raise ChemloopError(f"{where}: judgement {index} needs 'preferred' of 'a', 'b' or null")
        principle = item.get("principle")
        if principle is not None:
            self.constitution.get(str(principle))  # a principle the constitution has, or an error naming it
        reason = " ".join(str(item.get("reason", "")).split())[:MAX_REASON]
        return Judgement(item["preferred"], None if principle is None else str(principle), reason)


def _count(items: object) -> str:
    return str(len(items)) if isinstance(items, list) else type(items).__name__


def as_dicts(judgements: Sequence[Judgement]) -> list[dict]:
    return [asdict(j) for j in judgements]
