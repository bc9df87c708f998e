"""One checkpoint format: a folder with ``model.safetensors``, ``config.json``, ``vocab.json``.

No pickles: safetensors holds only tensors, the JSON files only data, so loading a
checkpoint never runs code from it. The shipped priors live in ``chemloop/priors/`` and load by
name: ``"prior"`` (the default, trained on ZINC-250k; also ``"zinc"``) and ``"moses"``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from chemloop.chem.tokenizer import SmilesTokenizer
from chemloop.errors import ChemloopError
from chemloop.model.gpt import GPT, GPTConfig
from chemloop.model.quantized import INT8_SUFFIX, int8_skeleton, prepare_all

WEIGHTS, CONFIG, VOCAB = "model.safetensors", "config.json", "vocab.json"
PRIORS_DIR = Path(__file__).resolve().parent.parent / "priors"
DEFAULT_PRIOR = "prior"
# Other names of shipped priors: the default prior is the ZINC-250k one.
ALIASES = {"zinc": DEFAULT_PRIOR}


class CheckpointError(ChemloopError):
    """A checkpoint folder that is missing or unreadable."""


@dataclass
class LanguageModel:
    """A GPT with its tokenizer and the metadata saved beside it (how it was trained)."""

    model: GPT
    tokenizer: SmilesTokenizer
    metadata: dict = field(default_factory=dict)
    compression: list[dict] = field(default_factory=list)  # the steps that made it (chemloop compress)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def writes_random_spellings(self) -> bool:
        """Whether the model learned random SMILES spellings (its checkpoint says so): then RL
        replay and fine-tuning may use them; a model trained on canonical spellings only rates
        random ones far less likely and would be pushed off its own grammar."""
        return bool(self.metadata.get("randomized_smiles", False))


def resolve(name_or_path: str | Path) -> Path:
    """A checkpoint folder from a path, or from the name of a shipped prior (``"prior"``, ``"moses"``)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    shipped = PRIORS_DIR / ALIASES.get(str(name_or_path), str(name_or_path))
    if shipped.is_dir():
        return shipped
    known = sorted([*(p.name for p in PRIORS_DIR.iterdir() if (p / WEIGHTS).exists()), *ALIASES])
    raise CheckpointError(
        f"no checkpoint folder at {str(name_or_path)!r} (shipped priors: {', '.join(known) or 'none'})"
    )


def weights_digest(name_or_path: str | Path) -> str:
    """The first 16 hex digits of the SHA-256 of a checkpoint's weights file: which weights a name
    such as ``"prior"`` stood for when a run used it (a newer chemloop may ship other ones)."""
    digest = hashlib.sha256()
    with (resolve(name_or_path) / WEIGHTS).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def save(
    directory: str | Path,
    model: GPT,
    tokenizer: SmilesTokenizer,
    metadata: dict | None = None,
    dtype: torch.dtype | None = None,
    compression: list[dict] | None = None,
) -> Path:
    """Write a checkpoint folder; ``dtype`` (e.g. ``torch.float16``) shrinks the float weights file;
    ``compression`` records how a compressed model was made (int8 layers need it to load)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", dtype if dtype and v.is_floating_point() else v.dtype).contiguous()
        for k, v in model.state_dict().items()
    }
    state.pop("head.weight", None)  # tied to token_embedding.weight; safetensors rejects shared memory
    save_file(state, directory / WEIGHTS)
    config = {"model": model.config.to_dict(), "metadata": metadata or {}}
    if compression:
        config["compression"] = compression
    (directory / CONFIG).write_text(json.dumps(config, indent=2))
    tokenizer.save(directory / VOCAB)
    return directory


# A pretraining run's record of its corpus and held-out split; a model made from it (compressed,
# aligned) keeps them, so ``chemloop bench prior`` measures it against the same held-out molecules.
CORPUS_RECORDS = ("heldout.smi", "pretrain_config.json")


def copy_corpus_records(source: str | Path, out: str | Path) -> None:
    """Copy the corpus records of the model ``source`` (a folder or a shipped prior's name) to ``out``."""
    folder = resolve(source)
    for name in CORPUS_RECORDS:
        if (folder / name).is_file():
            shutil.copyfile(folder / name, Path(out) / name)


def load(name_or_path: str | Path = DEFAULT_PRIOR, device: str | torch.device = "cpu") -> LanguageModel:
    """Load a checkpoint folder (or a shipped prior by name) in float32 on ``device``."""
    directory = resolve(name_or_path)
    missing = [f for f in (WEIGHTS, CONFIG, VOCAB) if not (directory / f).exists()]
    if missing:
        raise CheckpointError(f"checkpoint folder {directory} lacks {', '.join(missing)}")
    try:
        config = json.loads((directory / CONFIG).read_text())
        model = GPT(GPTConfig(**config["model"]))
        state = load_file(directory / WEIGHTS)
        compression = list(config.get("compression", []))
        int8 = next((step for step in compression if step.get("method") == "int8"), None)
        if int8 is not None:  # int8 layers replace the float ones before their weights load
            names = [k.removesuffix(INT8_SUFFIX) for k in state if k.endswith(INT8_SUFFIX)]
            int8_skeleton(model, int8.get("scheme", "dynamic"), names)
    except (ValueError, KeyError, TypeError, OSError, AttributeError) as err:
        raise CheckpointError(f"cannot read checkpoint {directory}: {err}") from err
    state["head.weight"] = state["token_embedding.weight"]
    # Float weights (bf16 ones too) run as float32: bf16 compute comes from autocast where the
    # chip has bf16 units (model.device), and training code sees the usual float32 parameters.
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.to(device).eval()
    prepare_all(model)
    tokenizer = SmilesTokenizer.load(directory / VOCAB)
    if len(tokenizer) != model.config.vocab_size:
        raise CheckpointError(
            f"{directory}: vocab.json has {len(tokenizer)} tokens, model expects {model.config.vocab_size}"
        )
    return LanguageModel(model, tokenizer, config.get("metadata", {}), compression)
