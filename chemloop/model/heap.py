"""How glibc's malloc keeps PyTorch's large CPU buffers: mapped afresh, or kept in the heap.

A buffer glibc serves by ``mmap``, or memory it gives back by trimming the top of the heap,
costs a page fault per 4 KiB page the next time it is written. On the 2-core virtual machines
measured here those faults are expensive, and sampling made millions of them: a fresh block of
each layer's keys and values at every growth and compaction of the KV cache, and activations
freed to the top of the heap and trimmed.

Two policies, one for each kind of work:

- training and scoring (:func:`return_freed_buffers_to_the_system`): buffers of 8 MiB and more
  are mapped and unmapped, so that memory is given back and a long run does not fragment the
  heap (glibc's adaptive threshold let a training run grow by gigabytes an hour);
- sampling (:func:`keep_buffers_while_sampling`): every buffer up to 1 GiB comes from the heap
  and the heap is not trimmed, so a sampler's same-sized buffers are reused without faults;
  afterwards the training policy is back and, after a large job, the freed memory is returned
  (``malloc_trim``).
  Side by side (``bench/sampling_commits.sh``, docs/benchmarks.md): 1.17x the valid molecules/s
  in fp32, 1.10x in bf16, 1.24x in int8 (2026-12-06, AMD EPYC with AVX-512 BF16, two threads).

Linux with glibc only; elsewhere both are no-ops.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MiB = 2**20

TRAINING_MMAP_THRESHOLD = 8 * MiB
GLIBC_TRIM_THRESHOLD = 128 * 1024  # glibc's default once the mmap threshold is fixed
SAMPLING_MMAP_THRESHOLD = 1024 * MiB
SAMPLING_TRIM_THRESHOLD = 2048 * MiB

_lock = threading.Lock()
_samplers = 0  # samplers running now (threads of a server may overlap)


@cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist
    except (OSError, AttributeError):
        return None
    return libc


def _set_thresholds(mmap_bytes: int, trim_bytes: int | None = None) -> None:
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, mmap_bytes)
    if trim_bytes is not None:
        libc.mallopt(_M_TRIM_THRESHOLD, trim_bytes)


@cache
def return_freed_buffers_to_the_system() -> None:
    """Serve buffers of 8 MiB and more from mmap, so freeing one gives its memory back.

    bf16 work on the CPU allocates and frees buffers of many sizes (one per batch shape); glibc's
    adaptive threshold moves such buffers into the heap, where they fragment: a training run grew
    by gigabytes an hour (a tiny model, 600 steps: 0.4 -> 2.8 GB). A fixed threshold stops that. At
    64 KiB every activation was mapped and unmapped, and the page faults cost a third of an RL run's
    time; at 8 MiB (2026-12-04, AMD EPYC, one thread): 600 steps of that tiny model peak at 1.2 GB
    (0.98 at 64 KiB) in 77% of the time, and 1,000 oracle calls of RL on the default prior run as
    fast as with glibc's own threshold (108 s against 138 s at 64 KiB).
    """
    with _lock:
        if _samplers == 0:  # a sampler running now sets this policy when it ends
            _set_thresholds(TRAINING_MMAP_THRESHOLD)


@contextmanager
def keep_buffers_while_sampling(give_back: bool = True) -> Iterator[None]:
    """Within: large buffers come from the heap and stay there. After the outermost sampler: the
    training policy again, and with ``give_back`` the freed memory returned to the system at once
    (after a large sampling job; an RL step's small sampler leaves that to glibc's trimming)."""
    global _samplers
    with _lock:
        _samplers += 1
        if _samplers == 1:
            _set_thresholds(SAMPLING_MMAP_THRESHOLD, SAMPLING_TRIM_THRESHOLD)
    try:
        yield
    finally:
        with _lock:
            _samplers -= 1
            if _samplers == 0:
                _set_thresholds(TRAINING_MMAP_THRESHOLD, GLIBC_TRIM_THRESHOLD)
                libc = _glibc()
                if give_back and libc is not None:
                    libc.malloc_trim(0)
