"""Prompting a SMILES model: decorate a scaffold, grow a fragment, link two fragments.

The rounds (:mod:`chemloop.model.prompt_rounds`) spell the molecule so that its SMILES ends at an
attachment point and have the model continue it; the points left after the first are written in
one pass over a template of the molecule (its tokens given, a fragment of the model's own at each
point: :mod:`chemloop.model.templates`); for linking the model
continues one fragment and the other is bonded to the last atom it wrote. The model side is
:func:`~chemloop.model.generate.continue_smiles` (batched prefix sampling with the KV cache) and
:func:`~chemloop.model.generate.string_nll` (it rates the spellings of a prompt). The model must be
able to start a SMILES at any atom: one trained on random spellings.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Sequence

import torch
from rdkit import Chem

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import try_parse_canonical
from chemloop.chem.prompts import Prompt, PromptError, PromptKind, PromptQuery, parse_prompt
from chemloop.chem.tokenizer import SmilesTokenizer, TokenizerError, split_smiles
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.generate import Sampled, SampleReport, continue_smiles, fill_templates, string_nll
from chemloop.model.inference import sampling_model
from chemloop.model.prompt_rounds import OPENING_KEPT, decorate, hide_points, link

SPELLINGS_CHECKED = 20  # random spellings of each fragment whose tokens must be in the vocabulary
CONTINUATION_ROOM = 8  # tokens a prompt must leave free in the model's context
MAX_DRAWS_PER_MOLECULE = 20  # with unique products: draws allowed per molecule asked for
# Tokens that may not follow the prompted atom: an attachment point is one single bond to one new
# atom, so no other bond order, no branch or ring bond that would give the atom a second new
# neighbour (taking the hydrogen of another point on it), no closing bracket, no new molecule, and
# no explicit hydrogen: a point "decorated" with [H] is no point, the product lacks the scaffold.
_RING_LABELS = (*(str(d) for d in range(10)), *(f"%{n}" for n in range(10, 100)))
NOT_AFTER_PROMPT = ("=", "#", "$", ":", "(", ")", ".", "[H]", *_RING_LABELS)
_DUMMY = re.compile(r"^(\*|\[\d*\*.*\])$")


def _spellings(fragment: str) -> list[str]:
    """How prompts may write the fragment, in random orders: with each attachment point removed
    (its atom as it is when continued) and, with several points, the points as hydrogens (atoms
    waiting for their turn)."""
    mol = Chem.MolFromSmiles(fragment)
    forms = [mol]
    if sum(a.GetAtomicNum() == 0 for a in mol.GetAtoms()) > 1:  # the others wait as hydrogens
        try:
            forms.append(hide_points(mol, keep=-1)[0])
        except Exception as err:  # RDKit cannot sanitize it with hydrogens for the points
            raise PromptError(
                f"{fragment!r} cannot be written with hydrogens for its points: {err}"
            ) from None
    out = []
    for form in forms:
        out += [Chem.MolToSmiles(form), *Chem.MolToRandomSmilesVect(form, SPELLINGS_CHECKED, randomSeed=0)]
    return out


def _tokens(spelling: str) -> list[str]:
    """The tokens of a spelling, attachment points (``*``, ``[*]``) left out."""
    return [t for t in split_smiles(spelling) if not _DUMMY.match(t)]


def check_writable(prompt: Prompt, tokenizer: SmilesTokenizer, block_size: int) -> None:
    """Raise :class:`PromptError` if the model cannot write the prompt: a token its vocabulary
    lacks (named), or a prompt too long for its context."""
    noun = "scaffold" if prompt.kind == "decorate" else "link prompt"
    for fragment in prompt.fragments:
        longest = 0
        for spelling in _spellings(fragment):
            try:
                tokens = _tokens(spelling)
            except TokenizerError as err:
                raise PromptError(f"{noun} {prompt.text!r}: {err}") from None
            missing = [t for t in tokens if t not in tokenizer.index]
            if missing:
                raise PromptError(
                    f"{noun} {prompt.text!r} needs the token {missing[0]!r} (in {spelling!r}), "
                    "which this model's vocabulary lacks"
                )
            longest = max(longest, len(tokens))
        if longest + 2 + CONTINUATION_ROOM > block_size:
            raise PromptError(
                f"{noun} {prompt.text!r} takes up to {longest} tokens; this model's context of "
                f"{block_size} leaves no room to continue it"
            )


def prepare_prompt(lm: LanguageModel, text: str, kind: PromptKind) -> Prompt:
    """Parse ``text`` as a prompt of ``kind`` and check that ``lm`` can write it (all before sampling)."""
    prompt = parse_prompt(text, kind)
    check_writable(prompt, lm.tokenizer, lm.model.config.block_size)
    return prompt


def prompted_strings(
    lm: LanguageModel,
    prompt: Prompt,
    count: int,
    generator: torch.Generator,
    rng: random.Random,
    *,
    attempts: int = 3,
    distinct: bool = False,
    exclude: frozenset[str] = frozenset(),
    **sampling: float,
) -> list[tuple[str, float]]:
    """``count`` strings continuing ``prompt``, each with its NLL under ``lm`` (NaN where the model
    did not write all of it: a linked fragment); ``sampling`` takes ``continue_smiles``' options
    (temperature, top_k, top_p, batch_size). With ``distinct`` the rows continuing the same
    spelling get continuations that are distinct molecules, none in ``exclude`` (canonical
    SMILES), drawn without replacement. The caller picks the number format
    (:func:`~chemloop.model.inference.sampling_model`)."""

    def continue_fn(prefixes: list[str]) -> list[tuple[str, float]]:
        return continue_smiles(
            lm,
            prefixes,
            generator,
            banned_first=NOT_AFTER_PROMPT,
            distinct=distinct,
            exclude=exclude,
            **sampling,
        )

    def fill_fn(templates: list[str]) -> list[tuple[str, float]]:
        return fill_templates(lm, templates, generator, banned_first=NOT_AFTER_PROMPT, **sampling)

    def nll_fn(prefixes: list[str]) -> list[float]:
        return string_nll(lm, prefixes, end=False)

    def writable(smiles: str) -> bool:
        try:
            return all(t in lm.tokenizer.index for t in split_smiles(smiles))
        except TokenizerError:
            return False

    # Distinct draws come from sampling without replacement, not from varied spellings: one
    # spelling per start gives one group, and a group's continuations never repeat.
    openings = 1 if distinct else OPENING_KEPT
    if prompt.kind == "decorate":
        return decorate(
            prompt.fragments[0],
            count,
            continue_fn,
            nll_fn,
            rng,
            attempts=attempts,
            writable=writable,
            openings=openings,
            fill_fn=fill_fn,
        )
    return link(prompt.fragments, count, continue_fn, nll_fn, rng, attempts=attempts, openings=openings)


def sample_with_prompt(
    lm: LanguageModel,
    prompt: Prompt,
    num: int,
    *,
    seed: int = 0,
    batch_size: int = 1024,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    precision: str = "auto",
    attempts: int = 3,
    unique: bool = True,
    max_draws_per_molecule: int = MAX_DRAWS_PER_MOLECULE,
) -> SampleReport:
    """``num`` molecules that continue ``prompt`` (from :func:`prepare_prompt`); the same seed
    gives the same molecules. Each carries the prompt and whether it contains it. A continuation
    that is not a molecule is sampled again, up to ``attempts`` times per attachment point.

    With ``unique`` a valid product that repeats an earlier one is dropped and drawn again (a
    prior decorates a core with methyls and chlorines far more often than with anything else),
    until ``num`` rows or ``max_draws_per_molecule * num`` draws; the report counts the repeats,
    and its rates include their time."""
    check_writable(prompt, lm.tokenizer, lm.model.config.block_size)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    rng = random.Random(seed)
    options = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "batch_size": batch_size}

    def draw(count: int) -> tuple[list[str], list[float]]:
        with sampling_model(lm, precision) as runner:
            written = prompted_strings(
                runner,
                prompt,
                count,
                generator,
                rng,
                attempts=attempts,
                distinct=unique,
                exclude=frozenset(seen),
                **options,
            )
        return [s for s, _ in written], [nll for _, nll in written]

    start = time.perf_counter()
    strings, nlls, parsed, seen, repeats = [], [], [], set(), 0
    while len(strings) < num and len(strings) + repeats < max_draws_per_molecule * num:
        batch_strings, batch_nlls = draw(
            min(num - len(strings), max_draws_per_molecule * num - len(strings) - repeats)
        )
        for smiles, nll in zip(batch_strings, batch_nlls, strict=True):
            product = try_parse_canonical(smiles)
            if unique and product is not None and product[1] in seen:
                repeats += 1
                continue
            if product is not None:
                seen.add(product[1])
            strings.append(smiles)
            nlls.append(nll)
            parsed.append(product)
        if not unique:
            break
    sampled_at = time.perf_counter()
    unknown = [i for i, nll in enumerate(nlls) if math.isnan(nll)]  # strings the model did not write whole
    with sampling_model(lm, precision) as runner:
        for i, nll in zip(unknown, string_nll(runner, [strings[i] for i in unknown]), strict=True):
            nlls[i] = nll
    molecules, withheld = _products(strings, nlls, parsed, prompt)
    return SampleReport(
        molecules,
        sampled_at - start,
        time.perf_counter() - start,
        prompt=prompt,
        withheld=withheld,
        repeats=repeats,
    )


def _products(
    strings: Sequence[str],
    nlls: Sequence[float],
    parsed: Sequence[tuple[Chem.Mol, str] | None],
    prompt: Prompt,
) -> tuple[list[Sampled], int]:
    """The products as :class:`Sampled` (``parsed``: each string's molecule and canonical SMILES, or
    ``None`` where it is not valid), without those the dual-use guard withholds, and their count."""
    contains = PromptQuery(prompt)
    molecules, withheld = [], 0
    for smiles, nll, product in zip(strings, nlls, parsed, strict=True):
        mol, canonical = product if product is not None else (None, "")
        if mol is not None and is_withheld(mol):
            withheld += 1
            continue
        molecules.append(
            Sampled(
                smiles=smiles,
                valid=product is not None,
                canonical=canonical,
                nll=round(nll, 4) if math.isfinite(nll) else math.nan,
                prompt=prompt.smiles,
                contains_prompt=contains(mol),
            )
        )
    return molecules, withheld


__all__ = ["PromptError", "check_writable", "prepare_prompt", "prompted_strings", "sample_with_prompt"]
