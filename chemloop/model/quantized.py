"""INT8 linear layers: int8 weights with one scale per output channel, and the kernel that runs them.

The file format is kernel-free: ``<layer>.weight_int8`` (int8, ``out × in``) and
``<layer>.weight_scale`` (float32, ``out``), weight ≈ int8 × scale. What runs them is picked
where the model is loaded, from what works there:

- ``dynamic`` (weights and activations in int8): PyTorch's quantized engine (fbgemm / x86 /
  oneDNN) quantizes each activation row on the fly and multiplies int8 × int8 — faster than
  fp32 on AVX2 and AVX-512 CPUs for the layer sizes of a SMILES GPT;
- ``weight_only`` (weights in int8, activations in float): the weights are dequantized once
  into float32 and multiplied as usual: the same numbers at fp32 speed. On an AVX2 CPU
  PyTorch's int8 weight-only kernel (``_weight_int8pack_mm``) and its int8 × int8 ``_int_mm``
  ran tens of times slower than fp32, and torchao's CPU paths (built on them, or dequantizing
  on every call) no faster than fp32 (``bench/int8_kernels.py`` measures them all).

``dynamic`` falls back to ``weight_only`` where the quantized engine is missing (a GPU, a
build without it). The output head stays in float: it is tied to the token embedding, and the
logits are what sampling and likelihoods read.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn import functional as F

from chemloop.errors import ChemloopError

SCHEMES = ("dynamic", "weight_only")
INT8_SUFFIX, SCALE_SUFFIX = ".weight_int8", ".weight_scale"


def quantize_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8: ``(int8 out × in, float32 scale of length out)``."""
    w = weight.detach().float()
    scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


def dynamic_engine_available() -> bool:
    """Whether this PyTorch build has a CPU quantized engine for dynamic int8 linear layers."""
    engine = torch.backends.quantized.engine
    return engine in ("x86", "fbgemm", "onednn", "qnnpack") and hasattr(torch.ops.quantized, "linear_dynamic")


class Int8Linear(nn.Module):
    """A bias-free linear layer whose weight is stored as int8 with per-channel scales (inference only)."""

    def __init__(self, in_features: int, out_features: int, scheme: str = "dynamic") -> None:
        super().__init__()
        if scheme not in SCHEMES:
            raise ChemloopError(f"unknown int8 scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
        self.in_features, self.out_features, self.scheme = in_features, out_features, scheme
        self.register_buffer("weight_int8", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features))
        self.kernel = "unprepared"
        self._packed = None  # the quantized engine's packed weight (CPU, `dynamic`)
        self._dequantized: torch.Tensor | None = None  # float weight (`weight_only`, fallback)

    @classmethod
    def from_linear(cls, linear: nn.Linear, scheme: str = "dynamic") -> Int8Linear:
        if linear.bias is not None:
            raise ChemloopError("int8 layers here have no bias; the GPT's linear layers have none")
        layer = cls(linear.in_features, linear.out_features, scheme)
        layer.weight_int8, layer.weight_scale = quantize_weight(linear.weight)
        layer.train(linear.training)
        return layer.prepare()

    def prepare(self) -> Int8Linear:
        """Build the kernel for the device the buffers are on (after loading or moving them)."""
        self._packed, self._dequantized = None, None
        if self.scheme == "dynamic" and self.weight_int8.device.type == "cpu" and dynamic_engine_available():
            # Zero points of 0 for symmetric weights; the engine wants double scales. PyTorch warns
            # that quantized tensors are deprecated; the engine's packed weights still need one.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                qweight = torch._make_per_channel_quantized_tensor(
                    self.weight_int8,
                    self.weight_scale.double(),
                    torch.zeros(self.out_features, dtype=torch.long),
                    0,
                )
                self._packed = torch.ops.quantized.linear_prepack(qweight, None)
            # fbgemm on AVX2 saturates int16 sums of 8-bit products: use 7-bit activations there,
            # as torch.ao's dynamic quantization does.
            self._reduce_range = torch.backends.quantized.engine in ("x86", "fbgemm")
            self.kernel = f"int8 dynamic ({torch.backends.quantized.engine})"
        else:
            self._dequantized = self.weight_int8.float() * self.weight_scale[:, None]
            self.kernel = "int8 weights, float compute"
        return self

    def dequantized_weight(self) -> torch.Tensor:
        return self.weight_int8.float() * self.weight_scale[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            raise ChemloopError(
                "an int8 model is for sampling and scoring; train (RL, fine-tuning) from the float checkpoint"
            )
        if self._packed is not None:
            # The engine takes float32 (under bf16 autocast the input may be bf16).
            out = torch.ops.quantized.linear_dynamic(x.float().contiguous(), self._packed, self._reduce_range)
            return out.to(x.dtype)
        if self._dequantized is None:
            self.prepare()
        return F.linear(x, self._dequantized.to(x.dtype))

    def _apply(self, fn, recurse: bool = True):
        # Moving the module (.to(device)) moves the buffers; the kernel must follow them.
        module = super()._apply(fn, recurse)
        if self.kernel != "unprepared":
            self.prepare()
        return module

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, scheme={self.scheme}, kernel={self.kernel}"


def count_parameters(model: nn.Module) -> int:
    """Float parameters plus int8 weights: the model's size whichever way its layers are stored."""
    int8 = sum(m.weight_int8.numel() for m in model.modules() if isinstance(m, Int8Linear))
    return sum(p.numel() for p in model.parameters()) + int8


def int8_layer_names(model: nn.Module) -> list[str]:
    """The linear layers of the transformer blocks (not the tied output head)."""
    return [
        name for name, m in model.named_modules() if isinstance(m, nn.Linear) and name.startswith("blocks.")
    ]


def quantize_model(model: nn.Module, scheme: str = "dynamic") -> nn.Module:
    """Replace every block's linear layer in place by an :class:`Int8Linear` (weights quantized)."""
    for name in int8_layer_names(model):
        _replace(model, name, Int8Linear.from_linear(model.get_submodule(name), scheme))
    return model


def int8_skeleton(model: nn.Module, scheme: str, names: list[str]) -> nn.Module:
    """Put empty :class:`Int8Linear` layers at ``names`` so that a saved int8 state dict loads."""
    for name in names:
        linear = model.get_submodule(name)
        _replace(model, name, Int8Linear(linear.in_features, linear.out_features, scheme))
    return model


def prepare_all(model: nn.Module) -> list[str]:
    """Build every int8 layer's kernel where its buffers now are; the distinct kernels in use."""
    kernels = {m.prepare().kernel for m in model.modules() if isinstance(m, Int8Linear)}
    return sorted(kernels)


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, module)
