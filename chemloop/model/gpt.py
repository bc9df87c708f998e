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
    """Keys and values of every layer for a batch of sequences, filled as tokens are fed."""

    def __init__(self, config: GPTConfig, batch_size: int, device, dtype) -> None:
        shape = (config.n_layer, batch_size, config.n_head, config.block_size, config.attn_head_dim)
        # Unfilled positions are never read (attention sees only the first `length`): no zeroing.
        self.keys = torch.empty(shape, device=device, dtype=dtype)
        self.values = torch.empty(shape, device=device, dtype=dtype)
        self.length = 0  # positions already filled

    def keep(self, rows: torch.Tensor) -> None:
        """Drop finished sequences: keep only the batch rows in ``rows``.

        Copies only the filled positions: copying the whole context took a third of the time
        of sampling a 6-layer model on a CPU.
        """
        self.keys, self.values = (self._rows(t, rows) for t in (self.keys, self.values))

    def _rows(self, tensor: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        kept = tensor.new_empty((tensor.shape[0], len(rows), *tensor.shape[2:]))
        kept[:, :, :, : self.length] = tensor[:, rows, :, : self.length]
        return kept


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
        causal = True
        if cache is not None:
            start = cache.length
            cache.keys[layer, :, :, start : start + T] = k
            cache.values[layer, :, :, start : start + T] = v
            k = cache.keys[layer, :, :, : start + T]
            v = cache.values[layer, :, :, : start + T]
            # Prefill from an empty cache is ordinary causal attention; a single new token
            # may attend to every cached position.
            if start > 0 and T > 1:
                raise ValueError("a KV cache takes either a prefill or one token at a time")
            causal = start == 0
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal and T > 1, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, inner))


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
