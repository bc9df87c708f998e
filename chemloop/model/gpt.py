"""A GPT decoder for SMILES: the whole architecture in one file.

Pre-LayerNorm transformer blocks, causal self-attention through
``torch.nn.functional.scaled_dot_product_attention`` (flash attention on a GPU), learned
position embeddings and an output head tied to the token embedding. ``forward`` takes an
optional :class:`KVCache` so that sampling feeds one new token per step instead of the
whole prefix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from chemloop.model.device import cpu_has_amx


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    block_size: int = 64  # longest sequence, <bos> and <eos> included
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    # Set only by structured pruning, which removes whole heads and MLP units and so leaves
    # n_head * head_dim below n_embd and the MLP narrower than 4 * n_embd.
    head_dim: int | None = None
    mlp_width: int | None = None

    @property
    def attn_head_dim(self) -> int:
        return self.head_dim or self.n_embd // self.n_head

    @property
    def mlp_hidden(self) -> int:
        return self.mlp_width or 4 * self.n_embd

    def to_dict(self) -> dict:
        """The fields to save; the pruning-only ones only when set, so other configs read as before."""
        return {k: v for k, v in asdict(self).items() if v is not None or k not in ("head_dim", "mlp_width")}


class KVCache:
    """Keys and values of every layer for a batch of sequences, filled as tokens are fed.

    Each layer's keys and values are one contiguous ``batch × heads × capacity × head_dim`` block
    that grows by ``GROWTH`` positions when full. A new token attends over the whole block with
    the unfilled positions masked: batched matrix products over a contiguous block ran 3-6x faster
    on the 2-core CPU than PyTorch's fused attention (or matrix products) over a slice of a
    context-long buffer, and attention was most of the time of sampling.
    """

    GROWTH = 16

    def __init__(self, config: GPTConfig, batch_size: int, device, dtype) -> None:
        empty = (batch_size, config.n_head, 0, config.attn_head_dim)
        self.block_size = config.block_size
        self.keys = [torch.zeros(empty, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.values = [torch.zeros(empty, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.length = 0  # positions already filled

    @classmethod
    def for_model(cls, model: GPT, batch_size: int) -> KVCache:
        """A cache for ``model``'s sampling: under bf16 autocast the keys and values come out in
        bf16, so they are kept so, with no casts."""
        device = next(model.parameters()).device
        autocast_on = torch.is_autocast_enabled(device.type)
        dtype = torch.get_autocast_dtype(device.type) if autocast_on else next(model.parameters()).dtype
        return cls(model.config, batch_size, device, dtype)

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store a layer's new keys and values at the next positions; return the layer's whole
        block (unfilled positions are zeros, to be masked)."""
        end = self.length + k.shape[2]
        if end > self.keys[layer].shape[2]:  # zero-filled, so that masking is exact
            capacity = min(self.block_size, end + self.GROWTH)
            self.keys[layer] = self._grown(self.keys[layer], capacity)
            self.values[layer] = self._grown(self.values[layer], capacity)
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer], self.values[layer]

    @staticmethod
    def _grown(tensor: torch.Tensor, capacity: int) -> torch.Tensor:
        grown = tensor.new_empty((*tensor.shape[:2], capacity, tensor.shape[3]))
        grown[:, :, : tensor.shape[2]] = tensor
        grown[:, :, tensor.shape[2] :] = 0
        return grown

    def keep(self, rows: torch.Tensor) -> None:
        """Drop finished sequences: keep only the batch rows in ``rows`` (repeats allowed)."""
        self.keys = [t.index_select(0, rows) for t in self.keys]
        self.values = [t.index_select(0, rows) for t in self.values]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.head_dim or config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.head_dim = config.attn_head_dim
        inner = self.n_head * self.head_dim  # n_embd unless heads were pruned
        self.qkv = nn.Linear(config.n_embd, 3 * inner, bias=False)
        self.proj = nn.Linear(inner, config.n_embd, bias=False)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        B, T, _ = x.shape
        inner = self.n_head * self.head_dim
        q, k, v = self.qkv(x).split(inner, dim=2)
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if cache is not None and cache.length > 0:
            if T > 1:
                raise ValueError("a KV cache takes either a prefill or one token at a time")
            k, v = cache.write(layer, k, v)
            y = _one_query_attention(q, k, v, filled=cache.length + 1)
        else:
            if cache is not None:  # a prefill: ordinary causal attention, keys and values kept
                cache.write(layer, k, v)
            y = _causal_attention(q, k, v, dropout=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, inner))


CPU_TRAINING_ATTENTION = SDPBackend.MATH  # bench/training_attention.py measures it against the fused kernel


def _causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout: float) -> torch.Tensor:
    """Causal attention over whole sequences, for training, likelihoods and a prefill.

    In bf16 on a CPU, when gradients will flow, PyTorch's unfused (math) attention: the backward
    pass of its fused CPU kernel took ten times its forward, half of a bf16 training step on an
    Intel Xeon with AMX, where the math path's backward is ordinary matrix products (a bf16
    training step 1.5-1.7x faster; on an AMD EPYC with AVX-512 BF16 but no AMX, at the RL update's
    16 rows, 1.19x: ``bench/results/training_attention_b16_zen4.json``). In fp32 neither path was
    consistently faster, and without gradients the fused kernel's forward is the faster: both keep it.
    """
    causal = q.shape[2] > 1
    if q.requires_grad and q.device.type == "cpu" and q.dtype == torch.bfloat16:
        with sdpa_kernel(CPU_TRAINING_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=dropout)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=dropout)


def _one_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, filled: int) -> torch.Tensor:
    """Attention of one new token over a cache block whose first ``filled`` positions are set.

    On a CPU with AMX a bf16 block goes through PyTorch's fused attention, which read it 1.8x
    faster than bf16 matrix products on an Intel Xeon (batch 1,024, one thread); on an AMD EPYC
    with AVX-512 BF16 but no AMX the fused kernel took 6.5x as long as the products
    (``bench/one_query_attention.py``). In fp32 the products ran as fast or faster everywhere.
    """
    if q.dtype == torch.bfloat16 and (q.device.type != "cpu" or cpu_has_amx()):
        return fused_one_query_attention(q, k, v, filled)
    return one_query_attention_by_products(q, k, v, filled)


def fused_one_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, filled: int) -> torch.Tensor:
    """PyTorch's fused attention with the block's unfilled tail masked."""
    mask = None
    if filled < k.shape[2]:
        mask = torch.arange(k.shape[2], device=k.device).lt(filled).unsqueeze(0)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def one_query_attention_by_products(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, filled: int
) -> torch.Tensor:
    """Batched matrix products and a float32 softmax, the unfilled tail set to -inf."""
    scores = (q @ k.transpose(-2, -1)).float() * q.shape[-1] ** -0.5
    if filled < k.shape[2]:
        scores[..., filled:] = float("-inf")
    return torch.softmax(scores, dim=-1).to(v.dtype) @ v


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.n_embd, config.mlp_hidden, bias=False)
        self.down = nn.Linear(config.mlp_hidden, config.n_embd, bias=False)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_mlp = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        x = x + self.attn(self.ln_attn(x), cache, layer)
        return x + self.mlp(self.ln_mlp(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_final = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.token_embedding.weight  # weight tying
        self.apply(self._init_weights)
        # GPT-2: scale residual projections by depth so activations do not grow with layers.
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits of the next token at every position of ``idx`` (shape ``B × T × vocab``)."""
        return self.head(self.hidden_states(idx, cache))

    def hidden_states(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The final LayerNorm's output at every position (``B × T × n_embd``), before the head.

        Causal: position t sees only tokens up to t, so right padding leaves earlier states
        unchanged. Reward models mean-pool these states as a learned molecule representation.
        """
        T = idx.shape[1]
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.config.block_size}")
        positions = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.token_embedding(idx) + self.position_embedding(positions))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += T
        return self.ln_final(x)
