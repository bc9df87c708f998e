"""Generate molecules from a language model: SMILES, validity, canonical form, NLL, speed;
and continue given SMILES prefixes (the model side of prompting, :mod:`chemloop.model.prompting`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import try_parse_canonical
from chemloop.chem.prompts import Prompt
from chemloop.chem.tokenizer import TokenizerError
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.distinct_sampling import distinct_continuations
from chemloop.model.inference import sampling_model
from chemloop.model.likelihood import pad_batch, sequence_log_likelihood
from chemloop.model.sampling import sample_ids
from chemloop.model.templates import TemplateError, TemplateRows, encode_template


@dataclass
class Sampled:
    """One generated string: as generated, whether RDKit parses it, its canonical form, NLL;
    under a prompt, the prompt and whether the molecule contains it (NLL NaN where the model's
    vocabulary cannot spell the product)."""

    smiles: str
    valid: bool
    canonical: str
    nll: float
    prompt: str | None = None
    contains_prompt: bool | None = None


@dataclass
class SampleReport:
    molecules: list[Sampled]  # without those the dual-use guard withheld
    sampling_seconds: float  # model time only (token generation and decoding)
    total_seconds: float  # with RDKit validity checks and canonicalization
    prompt: Prompt | None = None  # the prompt every molecule continues, if any
    withheld: int = 0  # valid molecules withheld by the dual-use guard: counted, never shown
    repeats: int = 0  # valid products dropped as repeats of earlier ones (unique prompted sampling)

    @property
    def generated(self) -> int:
        return len(self.molecules) + self.withheld

    @property
    def validity(self) -> float:
        return (sum(m.valid for m in self.molecules) + self.withheld) / max(1, self.generated)

    @property
    def uniqueness(self) -> float:
        """Unique canonical SMILES among the valid molecules."""
        valid = [m.canonical for m in self.molecules if m.valid]
        return len(set(valid)) / max(1, len(valid))

    @property
    def contains_prompt(self) -> float | None:
        """The fraction of valid molecules that contain the prompt (``None`` without one)."""
        if self.prompt is None:
            return None
        valid = [m for m in self.molecules if m.valid]
        return sum(bool(m.contains_prompt) for m in valid) / max(1, len(valid))

    @property
    def valid_per_second(self) -> float:
        return (sum(m.valid for m in self.molecules) + self.withheld) / max(1e-9, self.sampling_seconds)

    def summary(self) -> dict[str, float]:
        prompted = {}
        if self.prompt is not None:
            prompted = {"contains_prompt": round(self.contains_prompt, 4), "repeats": self.repeats}
        return {
            "generated": self.generated,
            "withheld": self.withheld,
            "validity": round(self.validity, 4),
            "uniqueness": round(self.uniqueness, 4),
            **prompted,
            "molecules_per_s": round(self.generated / max(1e-9, self.sampling_seconds), 1),
            "valid_per_s": round(self.valid_per_second, 1),
            "sampling_s": round(self.sampling_seconds, 2),
            "total_s": round(self.total_seconds, 2),
        }


def sample(
    lm: LanguageModel,
    num: int,
    *,
    seed: int = 0,
    batch_size: int = 1024,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    precision: str = "auto",
) -> SampleReport:
    """Sample ``num`` SMILES strings in batches; the same seed gives the same strings.

    ``precision`` (``auto``, ``int8``, ``float``, ``fp32``, ``bf16``) picks the number format of the
    forward passes (:mod:`chemloop.model.inference`): ``auto`` is bf16 on a chip with bf16 units,
    else int8 on a CPU with PyTorch's quantized engine. Each format gives its own strings for the
    same seed; int8 NLLs stay close to fp32's (held-out NLL of the default prior 32.23 against
    32.19).
    """
    device = lm.device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    start = time.perf_counter()
    strings: list[str] = []
    nlls: list[float] = []
    with sampling_model(lm, precision) as runner:
        for first in range(0, num, batch_size):
            ids, nll = sample_ids(
                runner.model,
                lm.tokenizer,
                min(batch_size, num - first),
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                generator=generator,
            )
            strings += [lm.tokenizer.decode(row) for row in ids.tolist()]
            nlls += nll.tolist()
    if device.type == "cuda":
        torch.cuda.synchronize()
    sampled_at = time.perf_counter()
    molecules, withheld = [], 0
    for smiles, nll in zip(strings, nlls, strict=True):
        parsed = try_parse_canonical(smiles)
        if parsed is not None and is_withheld(parsed[0]):
            withheld += 1
            continue
        canonical = parsed[1] if parsed is not None else ""
        molecules.append(Sampled(smiles, parsed is not None, canonical, round(nll, 4)))
    return SampleReport(molecules, sampled_at - start, time.perf_counter() - start, withheld=withheld)


def continue_smiles(
    lm: LanguageModel,
    prefixes: Sequence[str],
    generator: torch.Generator,
    *,
    batch_size: int = 1024,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    banned_first: Sequence[str] = (),
    distinct: bool = False,
    exclude: frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Continue each SMILES prefix with the model, in batches of similar length; the first new
    token is neither ``<eos>`` nor one of ``banned_first`` (tokens the vocabulary lacks are ignored).
    Returns each string with its NLL under the model (prefix and ``<eos>`` included).

    With ``distinct`` the rows that share a prefix get continuations that are distinct molecules
    (canonical SMILES), none in ``exclude``, drawn without replacement
    (:mod:`chemloop.model.distinct_sampling`); rows beyond what one beam found are sampled plainly.

    A prefix the vocabulary cannot encode, or one that leaves no room in the context, comes back
    unchanged with a NaN NLL: the caller sees a product without its continuation rather than an
    error halfway through a batch. Run it on the model
    :func:`~chemloop.model.inference.sampling_model` gives for bf16 or int8.
    """
    block = lm.model.config.block_size
    encoded: list[list[int] | None] = []
    for prefix in prefixes:
        try:
            ids = lm.tokenizer.encode(prefix, add_special=False)
        except TokenizerError:
            ids = None
        encoded.append(ids if ids is not None and len(ids) + 2 <= block else None)
    result = [(prefix, math.nan) for prefix in prefixes]
    banned = [lm.tokenizer.index[t] for t in banned_first if t in lm.tokenizer.index]
    plain = [i for i, ids in enumerate(encoded) if ids is not None]
    if distinct:
        options = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "banned_after_prompt": banned}
        plain = _continue_distinct(lm, encoded, plain, result, generator, exclude, batch_size, options)
    options = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "generator": generator}

    def draw(rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        prompts = [encoded[i] for i in rows]
        return sample_ids(
            lm.model, lm.tokenizer, len(rows), prompts=prompts, banned_after_prompt=banned, **options
        )

    # Similar lengths together: the common prefix of a batch is fed in one pass.
    _draw_in_batches(lm, sorted(plain, key=lambda i: len(encoded[i])), batch_size, draw, result)
    return result


def _draw_in_batches(
    lm: LanguageModel,
    order: list[int],
    batch_size: int,
    draw: Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]],
    result: list[tuple[str, float]],
) -> None:
    """Fill ``result[i]`` for the rows ``i`` of ``order``, ``batch_size`` at a time, with the
    string and NLL of each row ``draw(rows)`` samples."""
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        ids, nll = draw(rows)
        for i, row, value in zip(rows, ids.tolist(), nll.tolist(), strict=True):
            result[i] = (lm.tokenizer.decode(row), value)


def _continue_distinct(
    lm: LanguageModel,
    encoded: list[list[int] | None],
    rows: list[int],
    result: list[tuple[str, float]],
    generator: torch.Generator,
    exclude: frozenset[str],
    batch_size: int,
    options: dict,
) -> list[int]:
    """Fill ``result`` for the rows that share their prefix with others, each group's
    continuations distinct molecules (in beams of at most ``batch_size``); returns the rows left
    to sample plainly (a prefix of their own, or more rows than the model had distinct
    continuations for)."""

    known: dict[tuple[int, ...], str | None] = {}  # the beam keys every ended string; taken reuses it

    def molecule(ids: list[int]) -> str | None:
        name = tuple(ids)
        if name not in known:
            parsed = try_parse_canonical(lm.tokenizer.decode(ids))
            known[name] = parsed[1] if parsed is not None else None
        return known[name]

    groups: dict[tuple[int, ...], list[int]] = {}
    for i in rows:
        groups.setdefault(tuple(encoded[i]), []).append(i)
    left = []
    for prefix, members in groups.items():
        if len(members) == 1:
            left += members
            continue
        taken = set(exclude)  # a beam holds at most batch_size rows; the next excludes what it drew
        for first in range(0, len(members), batch_size):
            chunk = members[first : first + batch_size]
            drawn = distinct_continuations(
                lm.model,
                lm.tokenizer,
                prefix,
                len(chunk),
                generator=generator,
                key=molecule,
                exclude=frozenset(taken),
                **options,
            )
            for i, (ids, nll) in zip(chunk, drawn, strict=False):
                result[i] = (lm.tokenizer.decode(ids), nll)
                taken.add(molecule(ids))
            left += chunk[len(drawn) :]
    return left


def fill_templates(
    lm: LanguageModel,
    templates: Sequence[str],
    generator: torch.Generator,
    *,
    batch_size: int = 1024,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    banned_first: Sequence[str] = (),
) -> list[tuple[str, float]]:
    """For each template (a SMILES with each ``*`` point ending a branch or the string,
    :mod:`chemloop.model.templates`), a string writing it with a fragment sampled at every point,
    and its NLL under the model; a fragment's first token is not one of ``banned_first``. A
    template the model cannot write comes back unchanged with a NaN NLL, as a prefix does in
    :func:`continue_smiles`. Run it on the model
    :func:`~chemloop.model.inference.sampling_model` gives for bf16 or int8."""
    banned = [lm.tokenizer.index[t] for t in banned_first if t in lm.tokenizer.index]
    result = [(template, math.nan) for template in templates]
    encoded = {}
    for i, template in enumerate(templates):
        try:
            encoded[i] = encode_template(lm.tokenizer, template)
        except TemplateError:
            continue
    options = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "generator": generator}

    def draw(rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        templates = [encoded[i] for i in rows]
        constraint = TemplateRows(
            lm.tokenizer,
            templates,
            banned_first=banned,
            vocab_size=lm.model.config.vocab_size,
            device=lm.device,
        )
        return sample_ids(lm.model, lm.tokenizer, len(rows), template=constraint, **options)

    # Rows of similar length together: they end at about the same step.
    _draw_in_batches(lm, sorted(encoded, key=lambda i: len(encoded[i])), batch_size, draw, result)
    return result


@torch.no_grad()
def string_nll(
    lm: LanguageModel, smiles: Sequence[str], *, end: bool = True, batch_size: int = 64
) -> list[float]:
    """NLL of each string under the model, ``<eos>`` included unless ``end`` is false (the NLL of a
    prefix); ``inf`` for a string the vocabulary cannot encode or the context cannot hold."""
    block = lm.model.config.block_size
    encoded: list[list[int] | None] = []
    for s in smiles:
        try:
            ids = lm.tokenizer.encode(s)
        except TokenizerError:
            ids = None
        if ids is not None and not end:
            ids = ids[:-1]
        encoded.append(ids if ids is not None and len(ids) <= block else None)
    result = [math.inf] * len(smiles)
    # Similar lengths together, in small batches each padded to its own longest string: 1,000
    # sampled molecules were rated in 3.6-4.3 s in batches of 64, 8.1-8.5 s in unsorted 512s.
    rows = sorted((i for i, ids in enumerate(encoded) if ids is not None), key=lambda i: len(encoded[i]))
    for first in range(0, len(rows), batch_size):
        chunk = rows[first : first + batch_size]
        batch = pad_batch([encoded[i] for i in chunk], lm.tokenizer.pad_id).to(lm.device)
        logp = sequence_log_likelihood(lm.model, batch, lm.tokenizer.pad_id).tolist()
        for i, value in zip(chunk, logp, strict=True):
            result[i] = -value
    return result
