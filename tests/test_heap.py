"""The heap policy while sampling: set once for nested or overlapping samplers, undone by the last
one to end (even one that fails), and the freed memory given back then."""

import pytest

from chemloop.model import heap


class FakeGlibc:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append(("mallopt", option, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def glibc(monkeypatch):
    fake = FakeGlibc()
    monkeypatch.setattr(heap, "_glibc", lambda: fake)
    return fake


def test_nested_samplers_set_the_policy_once_and_the_outermost_undoes_it(glibc):
    with heap.keep_buffers_while_sampling():
        with heap.keep_buffers_while_sampling():
            pass
        assert glibc.calls == [
            ("mallopt", heap._M_MMAP_THRESHOLD, heap.SAMPLING_MMAP_THRESHOLD),
            ("mallopt", heap._M_TRIM_THRESHOLD, heap.SAMPLING_TRIM_THRESHOLD),
        ]
    assert glibc.calls[2:] == [
        ("mallopt", heap._M_MMAP_THRESHOLD, heap.TRAINING_MMAP_THRESHOLD),
        ("mallopt", heap._M_TRIM_THRESHOLD, heap.GLIBC_TRIM_THRESHOLD),
        ("malloc_trim", 0),
    ]


def test_a_failing_sampler_still_restores_the_training_policy(glibc):
    with pytest.raises(RuntimeError), heap.keep_buffers_while_sampling():
        raise RuntimeError("the sampler failed")
    assert glibc.calls[-2:] == [
        ("mallopt", heap._M_TRIM_THRESHOLD, heap.GLIBC_TRIM_THRESHOLD),
        ("malloc_trim", 0),
    ]
    assert heap._samplers == 0


def test_sampling_a_model_runs_under_the_sampling_policy(glibc, tiny_lm):
    from chemloop.model.generate import sample

    sample(tiny_lm, 8, seed=0, batch_size=4, precision="fp32")
    sets = [c for c in glibc.calls if c[:2] == ("mallopt", heap._M_MMAP_THRESHOLD)]
    # Two batches under one policy: set once, undone once, the memory given back.
    assert [c[2] for c in sets] == [heap.SAMPLING_MMAP_THRESHOLD, heap.TRAINING_MMAP_THRESHOLD]
    assert glibc.calls[-1] == ("malloc_trim", 0)


def test_a_small_sampler_on_its_own_leaves_the_memory_to_glibc(glibc):
    with heap.keep_buffers_while_sampling(give_back=False):
        pass
    assert ("malloc_trim", 0) not in glibc.calls
    assert glibc.calls[-1] == ("mallopt", heap._M_TRIM_THRESHOLD, heap.GLIBC_TRIM_THRESHOLD)
