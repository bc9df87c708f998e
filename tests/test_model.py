import pytest
import torch
from sampling_checks import assert_cached_sampling_agrees
from torch.nn.attention import SDPBackend

from chemloop.model import GPT, GPTConfig, KVCache, checkpoint, gpt, log_likelihood, sample_ids
from chemloop.model.checkpoint import CheckpointError
from chemloop.model.gpt import _one_query_attention
from chemloop.model.sampling import filter_logits


@pytest.fixture()
def random_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()


def test_cached_forward_matches_full_forward(random_gpt):
    idx = torch.randint(0, 20, (3, 10))
    full = random_gpt(idx)
    cache = KVCache(random_gpt.config, 3, "cpu", torch.float32)
    stepwise = torch.cat(
        [random_gpt(idx[:, :4], cache)] + [random_gpt(idx[:, t : t + 1], cache) for t in range(4, 10)], dim=1
    )
    torch.testing.assert_close(stepwise, full, atol=1e-5, rtol=1e-4)


def test_a_growing_cache_with_rows_dropped_and_repeated_matches_full_forward():
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=20, block_size=48, n_layer=2, n_head=2, n_embd=32)).eval()
    idx = torch.randint(0, 20, (3, 45))
    cache = KVCache(model.config, 3, "cpu", torch.float32)
    model(idx[:, :5], cache)
    for t in range(5, 20):  # past the first growth of the cache
        model(idx[:, t : t + 1], cache)
    rows = torch.tensor([2, 0, 2])  # one row dropped, one repeated (as a beam does)
    cache.keep(rows)
    idx = idx[rows]
    stepwise = [model(idx[:, t : t + 1], cache) for t in range(20, 45)]
    torch.testing.assert_close(torch.cat(stepwise, dim=1), model(idx)[:, 20:], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("amx", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_one_query_attention_ignores_the_unfilled_positions(dtype, amx, monkeypatch):
    """Both paths (matrix products; fused attention in bf16 on a CPU with AMX) mask the cache's tail."""
    monkeypatch.setattr("chemloop.model.gpt.cpu_has_amx", lambda: amx)
    torch.manual_seed(2)
    q, k, v = (torch.randn(3, 2, n, 8).to(dtype) for n in (1, 12, 12))
    k[:, :, 7:], v[:, :, 7:] = 50.0, -50.0  # garbage where nothing was written yet
    got = _one_query_attention(q, k, v, filled=7)
    q, k, v = q.float(), k[:, :, :7].float(), v[:, :, :7].float()
    want = torch.softmax(q @ k.transpose(-2, -1) / 8**0.5, dim=-1) @ v
    torch.testing.assert_close(got.float(), want, atol=0.05, rtol=0.05)


def test_bf16_training_attention_kernels_give_the_fp32_gradients(random_gpt, monkeypatch):
    """The kernel a bf16 backward pass goes through on a CPU changes its speed, not the gradients."""
    idx = torch.randint(0, 20, (4, 12))

    def gradients(bf16: bool) -> torch.Tensor:
        random_gpt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = random_gpt(idx)
        logits.float().logsumexp(-1).sum().backward()
        return torch.cat([p.grad.flatten() for p in random_gpt.parameters()])

    reference = gradients(bf16=False)
    for kernel in (SDPBackend.FLASH_ATTENTION, SDPBackend.MATH):
        monkeypatch.setattr(gpt, "CPU_TRAINING_ATTENTION", kernel)
        got = gradients(bf16=True)
        assert (got - reference).norm() < 0.02 * reference.norm()


def test_context_longer_than_block_size_is_rejected(random_gpt):
    with pytest.raises(ValueError, match="block_size"):
        random_gpt(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.slow
def test_kv_cache_sampling_matches_uncached_sampling(tiny_lm):
    assert_cached_sampling_agrees(tiny_lm.model, tiny_lm.tokenizer, 64, seed=7)


@pytest.mark.slow
def test_same_seed_same_molecules_different_seed_different(tiny_lm):
    def strings(seed):
        ids, _ = sample_ids(
            tiny_lm.model, tiny_lm.tokenizer, 32, generator=torch.Generator().manual_seed(seed)
        )
        return [tiny_lm.tokenizer.decode(row) for row in ids.tolist()]

    assert strings(1) == strings(1)
    assert strings(1) != strings(2)


@pytest.mark.slow
def test_sampler_nll_equals_log_likelihood_of_the_string(tiny_lm):
    ids, nll = sample_ids(tiny_lm.model, tiny_lm.tokenizer, 16, generator=torch.Generator().manual_seed(3))
    smiles = [tiny_lm.tokenizer.decode(row) for row in ids.tolist()]
    complete = [i for i, row in enumerate(ids.tolist()) if tiny_lm.tokenizer.eos_id in row]
    # re-encoding a decoded string gives the same tokens, so the likelihoods must agree
    logp = log_likelihood(tiny_lm.model, tiny_lm.tokenizer, [smiles[i] for i in complete])
    torch.testing.assert_close(-logp, nll[complete], atol=1e-3, rtol=1e-4)


def test_greedy_and_top_k_one_agree(tiny_lm):
    greedy, _ = sample_ids(tiny_lm.model, tiny_lm.tokenizer, 4, temperature=0.0)
    top1, _ = sample_ids(
        tiny_lm.model, tiny_lm.tokenizer, 4, top_k=1, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(greedy, top1)
    assert (greedy == greedy[0]).all()  # deterministic: every row the same


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.1)).tolist() == [[False, True, True, True]]


def test_samples_end_within_the_context(tiny_lm):
    ids, _ = sample_ids(
        tiny_lm.model, tiny_lm.tokenizer, 32, max_length=12, generator=torch.Generator().manual_seed(0)
    )
    assert ids.shape == (32, 12)
    assert ((ids == tiny_lm.tokenizer.eos_id).sum(dim=1) == 1).all()


def test_save_load_gives_identical_log_likelihoods(tiny_lm, moses_sample, tmp_path):
    smiles = moses_sample[:50]
    before = log_likelihood(tiny_lm.model, tiny_lm.tokenizer, smiles)
    checkpoint.save(tmp_path / "copy", tiny_lm.model, tiny_lm.tokenizer, {"note": "test"})
    loaded = checkpoint.load(tmp_path / "copy")
    assert torch.equal(log_likelihood(loaded.model, loaded.tokenizer, smiles), before)
    assert loaded.metadata == {"note": "test"}
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [
        "config.json",
        "model.safetensors",
        "vocab.json",
    ]


def test_log_likelihood_rejects_unknown_tokens(tiny_lm):
    from chemloop.chem import TokenizerError

    with pytest.raises(TokenizerError, match=r"\[Xe\]"):
        log_likelihood(tiny_lm.model, tiny_lm.tokenizer, ["C[Xe]C"])


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint folder"):
        checkpoint.load(tmp_path / "nowhere")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="lacks model.safetensors"):
        checkpoint.load(tmp_path / "partial")
