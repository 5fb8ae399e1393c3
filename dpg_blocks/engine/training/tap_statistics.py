"""The statistics pass of a tap summary: exact min/max/mean/std and NaN/Inf counts of a tensor.

:func:`~.taps.summarize` calls :func:`_moments` for the numbers of a large tensor (or one off
the CPU) and keeps the heatmap and the histogram itself. This pass is separate because it is
its own problem, reading 10^8 values fast on a shared 2-core machine, with its own machinery:

* **Statistics, one pass.** On the CPU the tensor is walked in chunks that stay in cache while
  ``aminmax``, ``sum`` and ``dot(c, c)`` read them; the per-chunk results are added up in
  float64. With more than one torch thread, single-threaded workers share out the chunks (see
  :class:`_ChunkWorkers` for why not torch's own threads). Non-finite values need no separate
  check: a NaN or Inf anywhere makes the sum non-finite, and only then is the slower masked
  pass (in float64) run, which counts them and keeps them out of every statistic. When the
  variance is small next to the squared mean (``sum(x²)/n - mean²`` would lose digits), a
  second pass computes ``sum((x - mean)²)``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import torch

# CPU chunk of the statistics pass, in elements (4 MiB of float32: two workers' chunks stay in
# L3 while the three reductions read them). Smaller chunks mean more ops, and every op hands the
# GIL between the workers: for 10^8 elements on the project's shared 2-core machine, 2^15 took
# 200-400 ms, 2^18 60-110 ms, 2^20 42-90 ms (2^21 and 2^22 were no better).
CHUNK = 1 << 20
# Above this ratio of mean² to variance, sum(x²)/n - mean² keeps too few digits (float32 sums
# carry ~1e-6 relative error): the variance is recomputed around the mean.
_CANCELLATION = 100.0


@dataclass
class _Moments:
    count: int  # finite values
    min: float
    max: float
    mean: float
    std: float
    nan: int
    inf: int


def _chunks(flat: torch.Tensor) -> list[torch.Tensor]:
    # On a GPU one kernel over the whole tensor is fastest; on the CPU, cache-sized pieces.
    return list(flat.split(CHUNK)) if flat.device.type == "cpu" else [flat]


def _moments(flat: torch.Tensor, acc: torch.dtype) -> _Moments:
    """Exact min/max/mean/std over the finite values, and the NaN/Inf counts."""
    n = flat.numel()
    chunks = _chunks(flat)
    workers = torch.get_num_threads() if flat.device.type == "cpu" else 1
    if workers > 1 and len(chunks) >= 2 * workers:
        parts = _ChunkWorkers.get(workers).run(chunks, acc)
    else:
        parts = _reduce_chunks(chunks, acc, iter(range(len(chunks))))
    per_chunk = torch.stack(parts).view(-1, 4)  # min, max, sum, sum of squares
    total = torch.stack((per_chunk[:, 0].min(), per_chunk[:, 1].max(), per_chunk[:, 2].double().sum(),
                         per_chunk[:, 3].double().sum()))
    lo, hi, s, sq = total.tolist()
    if not all(map(math.isfinite, (lo, hi, s, sq))):
        # A NaN/Inf somewhere, or finite values whose sums overflowed float32.
        return _masked_moments(chunks)
    mean = s / n
    var = max(sq / n - mean * mean, 0.0)
    if mean * mean > _CANCELLATION * var:
        var = _centered_square_sum(chunks, acc, mean) / n
    return _Moments(n, lo, hi, mean, math.sqrt(var), 0, 0)


@torch.inference_mode()
def _reduce_chunks(chunks: list[torch.Tensor], acc: torch.dtype, todo: Iterator[int]) -> list[torch.Tensor]:
    """Min, max, sum and sum of squares (0-d tensors, flat) of each chunk ``todo`` yields."""
    out: list[torch.Tensor] = []
    for i in todo:
        c = chunks[i]
        if c.dtype != acc:
            c = c.to(acc)
        # The first read brings the chunk into cache; the other two find it there. (Fresh 0-d
        # results cost less Python time than out= views, which matters: workers share the GIL.)
        out.extend(torch.aminmax(c))
        out.append(c.sum())
        out.append(torch.dot(c, c))
    return out


class _ChunkWorkers:
    """Threads that share out the chunks, each running torch ops on one core.

    Why not torch's own intra-op threads: every op on a cache-sized chunk is a parallel region,
    and a 10^8-element tensor takes hundreds of them. When another process holds a core
    (the GUI, a data loader), each region waits for its descheduled thread and the pass slows
    down tenfold (measured: 45 ms -> 350-600 ms on 2 cores). Single-threaded workers pulling
    chunks from a shared iterator degrade gracefully instead: a busy core does fewer chunks.
    """

    _by_count: ClassVar[dict[int, _ChunkWorkers]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, count: int) -> None:
        self.count = count
        self.pool = ThreadPoolExecutor(count, thread_name_prefix="dpg-taps", initializer=torch.set_num_threads,
                                       initargs=(1,))
        # Start every worker now (each runs the initializer once), then put back the process-wide
        # default that torch.set_num_threads(1) also changed: threads created later must not
        # inherit 1 thread. The workers keep theirs (OpenMP thread counts are per thread).
        barrier = threading.Barrier(count)
        for f in [self.pool.submit(barrier.wait) for _ in range(count)]:
            f.result()
        torch.set_num_threads(count)

    @classmethod
    def get(cls, count: int) -> _ChunkWorkers:
        """The shared workers for ``count`` threads (created on first use)."""
        with cls._lock:
            workers = cls._by_count.get(count)
            if workers is None:
                workers = cls._by_count[count] = cls(count)
            return workers

    def run(self, chunks: list[torch.Tensor], acc: torch.dtype) -> list[torch.Tensor]:
        """:func:`_reduce_chunks` over every chunk, all workers at once (results in any order)."""
        todo = iter(range(len(chunks)))  # shared: next() on a range iterator is atomic
        futures = [self.pool.submit(_reduce_chunks, chunks, acc, todo) for _ in range(self.count)]
        return [r for f in futures for r in f.result()]


def _centered_square_sum(chunks: list[torch.Tensor], acc: torch.dtype, mean: float) -> float:
    total = torch.zeros((), dtype=torch.float64, device=chunks[0].device)
    for c in chunks:
        d = c.to(acc) - mean
        total += torch.dot(d, d).double()
    return float(total)


def _masked_moments(chunks: list[torch.Tensor]) -> _Moments:
    """Statistics over the finite values only, in float64 (the tensor has NaN/Inf or is huge)."""
    per_chunk = []
    for c in chunks:
        c = c.to(torch.float64)
        finite = torch.isfinite(c)
        per_chunk.append(torch.stack((
            finite.sum(dtype=torch.float64), torch.isnan(c).sum(dtype=torch.float64),
            torch.where(finite, c, math.inf).min(), torch.where(finite, c, -math.inf).max(),
            torch.where(finite, c, 0.0).sum(),
        )))
    stats = torch.stack(per_chunk)
    count, nan, lo, hi, s = torch.stack((stats[:, 0].sum(), stats[:, 1].sum(), stats[:, 2].min(),
                                         stats[:, 3].max(), stats[:, 4].sum())).tolist()
    count, nan = int(count), int(nan)
    inf = sum(c.numel() for c in chunks) - count - nan
    if count == 0:
        return _Moments(0, math.nan, math.nan, math.nan, math.nan, nan, inf)
    mean = s / count
    square_sum = torch.zeros((), dtype=torch.float64, device=chunks[0].device)
    for c in chunks:
        c = c.to(torch.float64)
        d = torch.where(torch.isfinite(c), c - mean, 0.0)
        square_sum += torch.dot(d, d)
    return _Moments(count, lo, hi, mean, math.sqrt(float(square_sum) / count), nan, inf)
