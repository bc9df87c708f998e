"""What ``chemloop compress`` may be asked, checked once with errors that name the bad input."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chemloop.errors import ChemloopError

METHODS = ("bf16", "int8", "prune", "distill")
PRUNE_ALGORITHMS = ("sparsegpt", "magnitude")
STRUCTURED_PARTS = ("heads", "mlp")
INT8_SCHEMES = ("dynamic", "weight_only")
SIZE_KEYS = ("n_layer", "n_head", "n_embd")


class CompressError(ChemloopError):
    """A compression request that cannot be carried out (the message names the input)."""


@dataclass(frozen=True)
class CompressOptions:
    """One compression step. Fields a method does not use are ignored."""

    method: str
    sparsity: float = 0.5  # prune: the fraction of weights (or heads and MLP units) removed
    algorithm: str = "sparsegpt"  # prune, unstructured
    structured: tuple[str, ...] = ()  # prune: remove whole heads and/or MLP units instead
    scheme: str = "dynamic"  # int8
    size: dict[str, int] = field(default_factory=dict)  # distill: the student's n_layer/n_head/n_embd
    calibration: str | None = None  # prune: a corpus file (default: the model's training corpus)
    calibration_molecules: int = 2048
    max_minutes: float = 30.0  # distill
    max_steps: int | None = None  # distill
    batch_size: int = 256  # distill: teacher samples per step
    lr: float = 1e-3  # distill
    seed: int = 0

    def record(self) -> dict:
        """The options that shaped the result, for the checkpoint's config.json."""
        if self.method == "int8":
            return {"method": "int8", "scheme": self.scheme, "layers": "transformer blocks' linear layers"}
        if self.method == "prune" and self.structured:
            return {"method": "prune", "structured": list(self.structured), "sparsity": self.sparsity}
        if self.method == "prune":
            return {"method": "prune", "algorithm": self.algorithm, "sparsity": self.sparsity}
        if self.method == "distill":
            return {"method": "distill", "size": self.size, "max_minutes": self.max_minutes, "lr": self.lr}
        return {"method": self.method}


def parse_size(text: str | None) -> dict[str, int]:
    """A student size: ``"4x192"`` (layers × width) or ``"n_layer=4,n_embd=192,n_head=4"``."""
    if not text:
        return {}
    text = text.strip()
    try:
        if "=" not in text:
            layers, _, width = text.lower().partition("x")
            size = {"n_layer": int(layers), **({"n_embd": int(width)} if width else {})}
        else:
            pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
            size = {key.strip(): int(value) for key, value in pairs}
    except ValueError:
        raise CompressError(
            f"size {text!r}: write LAYERSxWIDTH (e.g. 4x192) or n_layer=4,n_embd=192,n_head=4"
        ) from None
    unknown = sorted(set(size) - set(SIZE_KEYS))
    if unknown:
        raise CompressError(f"size {text!r}: unknown key {unknown[0]!r}; use {', '.join(SIZE_KEYS)}")
    bad = [k for k, v in size.items() if v < 1]
    if bad:
        raise CompressError(f"size {text!r}: {bad[0]} must be at least 1")
    return size


def parse_structured(text: str | None) -> tuple[str, ...]:
    """``"heads"``, ``"mlp"`` or ``"heads,mlp"`` (empty: unstructured)."""
    if not text:
        return ()
    parts = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in parts if p not in STRUCTURED_PARTS]
    if unknown:
        raise CompressError(
            f"structured part {unknown[0]!r} is unknown; choose from {', '.join(STRUCTURED_PARTS)}"
        )
    return parts


def check(options: CompressOptions) -> CompressOptions:
    """Raise :class:`CompressError` naming the first option that is out of range."""
    if options.method not in METHODS:
        raise CompressError(
            f"unknown compression method {options.method!r}; choose one of {', '.join(METHODS)}"
        )
    if options.method == "prune":
        if not 0 < options.sparsity < 1:
            raise CompressError(f"sparsity must lie strictly between 0 and 1, not {options.sparsity}")
        if options.algorithm not in PRUNE_ALGORITHMS:
            raise CompressError(
                f"unknown pruning algorithm {options.algorithm!r}; "
                f"choose one of {', '.join(PRUNE_ALGORITHMS)}"
            )
        parse_structured(",".join(options.structured))
    if options.method == "int8" and options.scheme not in INT8_SCHEMES:
        raise CompressError(
            f"unknown int8 scheme {options.scheme!r}; choose one of {', '.join(INT8_SCHEMES)}"
        )
    if options.method == "distill":
        if not options.size:
            raise CompressError("distill needs the student's size, e.g. --size 4x192 or --size n_layer=3")
        if options.max_minutes <= 0:
            raise CompressError(f"max_minutes must be positive, not {options.max_minutes}")
    source = options.calibration
    if source is not None and not (
        source == "moses" or source.startswith("moses:") or Path(source).is_file()
    ):
        raise CompressError(f"calibration corpus not found: {options.calibration}")
    if options.calibration_molecules < 16:
        raise CompressError(f"calibration_molecules must be at least 16, not {options.calibration_molecules}")
    return options
