"""Tensor summaries for live heatmaps: what a TapFrame carries, computed on the tensor's device.

:func:`summarize` turns a tensor of any size into a few tens of KiB: a heatmap of at most
``max_side``×``max_side`` (uint8, with the value range it maps), min/max/mean/std and the
NaN/Inf counts over the whole tensor, and a histogram. Only the small results leave the device.

How the tensor is read (a 10^8-element float32 tensor on 2 CPU cores takes about as long as two
plain passes over its memory):

* **Statistics, one pass** (:mod:`.tap_statistics`): chunked and added up in float64; NaN/Inf
  counted and kept out only when the sums show some; the variance recomputed around the mean
  when ``sum(x²)/n - mean²`` would lose digits.
* **Heatmap**: ranks are reduced to a 2-D image (see :func:`heatmap_source`) and block-averaged
  down on the device; a source much larger than the heatmap is strided first so that each pixel
  averages 4×4 to 8×8 evenly spread samples of its block (a 10^8-element vector costs a few
  MiB of reads, not 400 MB).
* **Histogram: a sample.** It counts at most HIST_SAMPLE evenly strided values (``hist_sample``
  says how many) between the exact min and max; every other statistic is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dpg_blocks.protocol import MAX_HEATMAP_SIDE, TapFrame, WireArray

from .tap_statistics import _CANCELLATION, CHUNK, _Moments, _moments

__all__ = ["CHUNK", "HIST_BINS", "HIST_SAMPLE", "SMALL_NUMEL", "TensorSummary", "heatmap_source", "summarize"]

HIST_BINS = 64
HIST_SAMPLE = 1 << 16
_FLOAT32_EXACT = {torch.bool, torch.uint8, torch.int8, torch.int16, torch.float16, torch.bfloat16, torch.float32}


@dataclass(frozen=True)
class TensorSummary:
    """What a TapFrame needs about one tensor (statistics over finite values; NaN when none)."""

    shape: tuple[int, ...]
    dtype: str
    numel: int
    heatmap: np.ndarray  # uint8, 2-D, at most max_side a side; heatmap_min -> 0, heatmap_max -> 255
    heatmap_min: float
    heatmap_max: float
    min: float
    max: float
    mean: float
    std: float  # population standard deviation (ddof=0)
    hist_counts: list[int]
    hist_edges: list[float]
    hist_sample: int  # how many of the tensor's values the histogram looked at
    nan_count: int
    inf_count: int

    def to_frame(self, block_id: str, port: str, direction: str, step: int) -> TapFrame:
        """The TapFrame event for this summary.

        Built unchecked: every field is right by construction here, the checks would cost as much
        as the summary at 20 Hz per tap, and the GUI's decode checks the frame anyway.
        """
        image = np.ascontiguousarray(self.heatmap, dtype=np.uint8)
        heatmap = WireArray.unchecked(dtype="uint8", shape=tuple(int(d) for d in image.shape), data=image.tobytes())
        return TapFrame.unchecked(
            block_id=block_id, port=port, direction=direction, step=step,
            shape=self.shape, dtype=self.dtype, numel=self.numel,
            heatmap=heatmap, heatmap_min=self.heatmap_min, heatmap_max=self.heatmap_max,
            min=self.min, max=self.max, mean=self.mean, std=self.std,
            hist_counts=self.hist_counts, hist_edges=self.hist_edges, hist_sample=self.hist_sample,
            nan_count=self.nan_count, inf_count=self.inf_count,
        )


@torch.inference_mode()
def summarize(t: torch.Tensor, max_side: int = MAX_HEATMAP_SIDE, bins: int = HIST_BINS) -> TensorSummary:
    """Summarise ``t`` (any shape, dtype and device) for a tap frame."""
    if max_side < 1 or bins < 1:
        raise ValueError(f"max_side and bins must be >= 1, got {max_side} and {bins}")
    x = t.detach()
    if x.device.type == "meta":
        raise ValueError("a meta tensor has no values to summarise")
    if x.layout != torch.strided:
        x = x.to_dense()
    if x.is_complex():
        x = x.abs()  # magnitudes
    shape, numel = tuple(int(d) for d in x.shape), x.numel()
    dtype = str(t.dtype).removeprefix("torch.")
    if numel == 0:
        nan = math.nan
        return TensorSummary(shape, dtype, 0, np.zeros((0, 0), np.uint8), nan, nan, nan, nan, nan, nan,
                             [], [], 0, 0, 0)
    if numel <= SMALL_NUMEL and x.device.type == "cpu" and x.dtype in _FAST_DTYPES:
        small = _summarize_small(x, shape, dtype, max_side, bins)
        if small is not None:
            return small
    flat = x.reshape(-1)
    acc = torch.float32 if x.dtype in _FLOAT32_EXACT else torch.float64
    m = _moments(flat, acc)
    image, lo, hi = _heatmap(x, max_side, masked=m.nan + m.inf > 0)
    counts, edges, sampled = _histogram(flat, acc, bins, m)
    return TensorSummary(shape, dtype, numel, image, lo, hi, m.min, m.max, m.mean, m.std,
                         counts, edges, sampled, m.nan, m.inf)


# -- small tensors ----------------------------------------------------------------------------
# Most tapped tensors are activations of a few thousand values: there, a dozen torch ops cost
# far more in dispatch than in arithmetic (~0.4 ms per frame), which at 20 Hz × 3 taps was 5% of
# a small model's training time. NumPy on the same memory does it in a fraction of that. Only
# the common case takes this path (CPU, all finite, no tiling or pooling); the rest falls back.
SMALL_NUMEL = 1 << 16
# float32 arithmetic is exact enough for these (float64 and big integers take the general path)
_FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _summarize_small(
    x: torch.Tensor, shape: tuple[int, ...], dtype: str, max_side: int, bins: int
) -> TensorSummary | None:
    source, tiled = heatmap_source(x, max_side)
    if tiled or source.shape[0] > max_side or source.shape[1] > max_side or source.numel() != x.numel():
        return None  # pooled, tiled or NaN-padded: the general path
    a = x.numpy() if x.dtype == torch.float32 else x.to(torch.float32).numpy()
    if not np.isfinite(a).all():
        return None  # the general path counts NaN/Inf and keeps them out of the statistics
    flat = a.reshape(-1)
    n = flat.size
    lo, hi = float(flat.min()), float(flat.max())
    mean = float(flat.sum(dtype=np.float64)) / n
    var = float(np.dot(flat, flat)) / n - mean * mean
    if var * _CANCELLATION < mean * mean:  # too few digits left: measure around the mean instead
        centered = flat - np.float32(mean)
        var = float(np.dot(centered, centered)) / n
    std = math.sqrt(max(var, 0.0))
    h_lo, h_hi = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)  # a constant: one bin in the middle
    # histc's rule in float32 like the general path (last bin closed), without np.histogram's setup
    idx = ((flat - np.float32(h_lo)) * np.float32(bins / (h_hi - h_lo))).astype(np.int32)
    counts = np.bincount(np.minimum(idx, bins - 1, out=idx), minlength=bins)
    edges = np.linspace(h_lo, h_hi, bins + 1).tolist()
    image = source.numpy() if source.dtype == torch.float32 else source.to(torch.float32).numpy()
    i_lo, i_hi = float(image.min()), float(image.max())
    span = i_hi - i_lo
    if span > 0 and math.isfinite(span):
        heat = np.rint((image - np.float32(i_lo)) * np.float32(255.0 / span))
        heat = np.clip(heat, 0, 255, out=heat).astype(np.uint8)
    else:
        heat = np.zeros(image.shape, np.uint8)
    return TensorSummary(shape, dtype, n, heat, i_lo, i_hi, lo, hi, mean, std, counts.tolist(), edges, n, 0, 0)


# -- heatmap ----------------------------------------------------------------------------------
def heatmap_source(x: torch.Tensor, max_side: int = MAX_HEATMAP_SIDE) -> tuple[torch.Tensor, bool]:
    """The values a heatmap shows, and whether they are channel tiles.

    Rank 0 -> 1×1; rank 1 -> one row, folded into a near-square grid when longer than
    ``max_side`` (the tail padded with NaN, which shows as no data); rank 2 (N, F) -> the batch
    as rows; rank 3 (N, L, C) -> the first item; rank 4 (N, C, H, W) -> the first item's
    channels, returned as (C, H, W) tiles; higher ranks -> first items until rank 4.
    """
    if x.dim() == 0:
        return x.reshape(1, 1), False
    if x.dim() == 1:
        n = x.shape[0]
        if n <= max_side:
            return x.reshape(1, n), False
        width = math.ceil(math.sqrt(n))
        rows = math.ceil(n / width)
        if rows * width == n:
            return x.reshape(rows, width), False
        padded = torch.full((rows * width,), math.nan, dtype=_float(x.dtype), device=x.device)
        padded[:n] = x
        return padded.reshape(rows, width), False
    if x.dim() == 2:
        return x, False
    if x.dim() == 3:
        return x[0], False
    while x.dim() > 4:
        x = x[0]
    return x[0], True


def _float(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype in (torch.float64, torch.int64, torch.int32, torch.uint64, torch.uint32) \
        else torch.float32


def _heatmap(x: torch.Tensor, max_side: int, masked: bool) -> tuple[np.ndarray, float, float]:
    source, tiled = heatmap_source(x, max_side)
    masked = masked or (x.dim() == 1 and source.numel() != x.numel())
    if tiled:
        image = _tiles(source, max_side, masked)
    else:
        h, w = source.shape
        image = _pool(source.unsqueeze(0), min(h, max_side), min(w, max_side), masked)[0]
    return _to_uint8(image)


def _tiles(chw: torch.Tensor, max_side: int, masked: bool) -> torch.Tensor:
    """(C, H, W) channels pooled to tiles and laid out in a grid, keeping each tile's aspect."""
    c, h, w = chw.shape
    c = min(c, max_side * max_side)  # every tile at least one pixel
    chw = chw[:c]
    cols = round(math.sqrt(c * h / w)) if w else 1  # a near-square mosaic
    cols = max(math.ceil(c / max_side), min(max(cols, 1), c, max_side))
    rows = math.ceil(c / cols)
    scale = min(max_side / (rows * h), max_side / (cols * w), 1.0)
    th, tw = max(1, math.floor(h * scale)), max(1, math.floor(w * scale))
    tiles = _pool(chw, th, tw, masked)
    if rows * cols > c:
        pad = torch.full((rows * cols - c, th, tw), math.nan, dtype=tiles.dtype, device=tiles.device)
        tiles = torch.cat((tiles, pad))
    return tiles.reshape(rows, cols, th, tw).permute(0, 2, 1, 3).reshape(rows * th, cols * tw)


def _pool(chw: torch.Tensor, oh: int, ow: int, masked: bool) -> torch.Tensor:
    """Block means of each (H, W) plane down to (oh, ow); NaN/Inf ignored when ``masked``."""
    _, h, w = chw.shape
    # Stride a source much larger than the output: each pixel then averages <= 4×4 samples.
    sh, sw = max(1, h // (4 * oh)), max(1, w // (4 * ow))
    if sh > 1 or sw > 1:
        chw = chw[:, ::sh, ::sw]
    chw = chw.to(_float(chw.dtype))
    if not masked:
        return F.adaptive_avg_pool2d(chw, (oh, ow)) if chw.shape[1:] != (oh, ow) else chw
    finite = torch.isfinite(chw)
    values = F.adaptive_avg_pool2d(torch.where(finite, chw, 0.0), (oh, ow))
    weight = F.adaptive_avg_pool2d(finite.to(chw.dtype), (oh, ow))
    return torch.where(weight > 0, values / weight, math.nan)


def _to_uint8(image: torch.Tensor) -> tuple[np.ndarray, float, float]:
    """``image`` mapped linearly to 0..255 over its finite range (no data -> 0), and that range."""
    finite = torch.isfinite(image)
    if not bool(finite.all()):
        if not bool(finite.any()):
            return np.zeros(tuple(image.shape), np.uint8), math.nan, math.nan
        lo, hi = image[finite].aminmax()
        image = torch.where(finite, image, lo)
    else:
        lo, hi = image.aminmax()
    lo_f, hi_f = float(lo), float(hi)
    span = hi_f - lo_f
    if span > 0 and math.isfinite(span):
        scaled = ((image.double() - lo_f) * (255.0 / span)).round_().clamp_(0, 255)
    else:
        scaled = torch.zeros_like(image)  # constant: nothing to contrast, and no division by zero
    out = scaled.to(torch.uint8)
    if not bool(finite.all()):
        out[~finite] = 0
    return out.cpu().numpy(), lo_f, hi_f


# -- histogram --------------------------------------------------------------------------------
def _histogram(flat: torch.Tensor, acc: torch.dtype, bins: int, m: _Moments) -> tuple[list[int], list[float], int]:
    """Counts of the finite values of an evenly strided sample, between the exact min and max."""
    n = flat.numel()
    stride = max(1, n // HIST_SAMPLE)
    if stride > 1 and stride % 2 == 0:
        stride += 1  # odd: less likely to alias with power-of-two rows and channels
    sample = flat[::stride][:HIST_SAMPLE].to(acc)
    sampled = sample.numel()
    if m.count == 0:
        return [], [], sampled  # nothing finite to count
    if m.nan or m.inf:
        sample = sample[torch.isfinite(sample)]
    lo, hi = m.min, m.max
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5  # a constant: one full bin in the middle
    counts = torch.histc(sample, bins=bins, min=lo, max=hi)
    edges = np.linspace(lo, hi, bins + 1).tolist()
    return [int(c) for c in counts.tolist()], edges, sampled
