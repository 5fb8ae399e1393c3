"""Tap summaries: a tensor of any rank, size and dtype becomes a small heatmap plus statistics
that match numpy, with NaN/Inf counted and kept out of the numbers, in a frame of a few KiB."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dpg_blocks.engine.training import tap_statistics
from dpg_blocks.engine.training.taps import HIST_SAMPLE, TensorSummary, heatmap_source, summarize
from dpg_blocks.protocol import MAX_HEATMAP_SIDE, TapFrame, decode, encode, wire_to_array


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def finite_numpy(t: torch.Tensor) -> np.ndarray:
    a = t.detach().to(torch.float64).numpy().reshape(-1)
    return a[np.isfinite(a)]


def assert_stats_match_numpy(s: TensorSummary, t: torch.Tensor, rel: float = 1e-6) -> None:
    a = finite_numpy(t)
    assert s.min == a.min() and s.max == a.max()
    assert s.mean == pytest.approx(a.mean(), rel=rel, abs=1e-9)
    assert s.std == pytest.approx(a.std(), rel=rel, abs=1e-9)


# -- heatmap shapes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "heatmap"),
    [
        ((), (1, 1)),
        ((7,), (1, 7)),  # a short vector is one row
        ((256,), (1, 256)),
        ((300,), (17, 18)),  # longer: folded near-square (tail padded)
        ((10_000,), (100, 100)),
        ((1_000_000,), (256, 256)),  # 1000x1000 folded, then block-averaged
        ((32, 10), (32, 10)),  # (N, F): the batch as rows
        ((512, 1000), (256, 256)),
        ((4, 50, 30), (50, 30)),  # (N, L, C): the first item
        ((2, 600, 30), (256, 30)),
        ((8, 1, 28, 28), (28, 28)),  # (N, C, H, W): the first item's channels, tiled
        ((8, 3, 32, 32), (64, 64)),  # 3 channels in a 2x2 grid
        ((8, 16, 64, 64), (256, 256)),  # 4x4 grid of 64x64 tiles
        ((2, 3, 1024, 512), (256, 128)),  # tall tiles keep their aspect
        ((2, 512, 7, 7), (161, 161)),  # 23x23 grid of 7x7 tiles
        ((1, 100_000, 1, 1), (256, 256)),  # more channels than pixels: the first 256*256 shown
        ((2, 3, 4, 8, 8), (16, 16)),  # rank 5: first items until rank 4
        ((2, 2, 2, 2, 2, 5, 5), (10, 5)),  # 2 channels stacked
    ],
)
def test_heatmap_shape_for_each_rank(shape: tuple[int, ...], heatmap: tuple[int, int], gen: torch.Generator) -> None:
    s = summarize(torch.randn(shape, generator=gen))
    assert s.heatmap.shape == heatmap and s.heatmap.dtype == np.uint8
    assert max(s.heatmap.shape) <= MAX_HEATMAP_SIDE


def test_max_side_is_respected(gen: torch.Generator) -> None:
    for shape in [(5000,), (300, 300), (2, 10, 100, 100)]:
        assert max(summarize(torch.randn(shape, generator=gen), max_side=32).heatmap.shape) <= 32


def test_rank5_shows_the_first_items_first_channels() -> None:
    x = torch.zeros(2, 3, 4, 8, 8)
    x[0, 0, 0] = 1.0  # only item [0, 0], channel 0 is bright
    hm = summarize(x).heatmap
    assert hm[:8, :8].min() == 255 and hm[:, 8:].max() == 0 and hm[8:, :].max() == 0


def test_channels_are_tiled_in_order_without_mixing(gen: torch.Generator) -> None:
    x = torch.arange(4.0).reshape(1, 4, 1, 1).expand(2, 4, 16, 16).contiguous()
    hm = summarize(x).heatmap  # a 2x2 grid, tile k is all k
    assert hm.shape == (32, 32)
    tiles = [hm[:16, :16], hm[:16, 16:], hm[16:, :16], hm[16:, 16:]]
    assert [int(t.min()) for t in tiles] == [int(t.max()) for t in tiles] == [0, 85, 170, 255]


def test_downsampling_averages_blocks() -> None:
    x = torch.zeros(512, 512)
    x[:256, :256] = 4.0  # the top-left quarter
    x[0, 0] = 8.0  # one outlier averages away in its 2x2 block
    s = summarize(x)
    assert s.heatmap.shape == (256, 256)
    assert (s.heatmap_min, s.heatmap_max) == (0.0, 5.0)  # (8 + 4 + 4 + 4) / 4
    assert s.heatmap[0, 0] == 255 and s.heatmap[1, 1] == round(4 / 5 * 255) and s.heatmap[200, 200] == 0


def test_heatmap_source_folds_long_vectors_with_nan_padding() -> None:
    src, tiled = heatmap_source(torch.arange(300.0))
    assert src.shape == (17, 18) and not tiled
    assert torch.isnan(src.reshape(-1)[300:]).all() and torch.equal(src.reshape(-1)[:300], torch.arange(300.0))


# -- uint8 normalisation --------------------------------------------------------------------------
def test_uint8_maps_the_heatmap_range_linearly(gen: torch.Generator) -> None:
    x = torch.randn(20, 30, generator=gen, dtype=torch.float64)  # small: the heatmap is the tensor
    s = summarize(x)
    a = x.numpy()
    expected = np.round((a - a.min()) / (a.max() - a.min()) * 255).astype(np.uint8)
    assert (s.heatmap_min, s.heatmap_max) == (a.min(), a.max())
    assert np.array_equal(s.heatmap, expected)
    assert s.heatmap.min() == 0 and s.heatmap.max() == 255


def test_a_constant_tensor_divides_by_nothing() -> None:
    with np.errstate(all="raise"):
        s = summarize(torch.full((4, 3, 8, 8), 2.5))
    assert (s.min, s.max, s.mean, s.std) == (2.5, 2.5, 2.5, 0.0)
    assert (s.heatmap_min, s.heatmap_max) == (2.5, 2.5) and not s.heatmap.any()
    assert sum(s.hist_counts) == s.numel and s.hist_counts[len(s.hist_counts) // 2] == s.numel
    assert s.hist_edges[0] < 2.5 < s.hist_edges[-1]


# -- statistics -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_stats_match_numpy_for_float_dtypes(dtype: torch.dtype, gen: torch.Generator) -> None:
    x = (torch.randn(3, 5, 7, 11, generator=gen) * 3 + 1).to(dtype)
    s = summarize(x)
    assert s.dtype == str(dtype).removeprefix("torch.") and s.shape == (3, 5, 7, 11) and s.numel == 1155
    assert_stats_match_numpy(s, x)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_stats_match_numpy_for_integers_and_bools(dtype: torch.dtype, gen: torch.Generator) -> None:
    x = torch.randint(0, 2 if dtype == torch.bool else 200, (40, 9), generator=gen).to(dtype)
    assert_stats_match_numpy(summarize(x), x)


def test_large_integers_keep_their_precision() -> None:
    x = torch.tensor([2**53, 2**53 + 2, 2**53 + 4], dtype=torch.int64)
    s = summarize(x)
    assert (s.min, s.max, s.mean) == (2.0**53, 2.0**53 + 4, 2.0**53 + 2)


def test_many_chunks_match_numpy(monkeypatch: pytest.MonkeyPatch, gen: torch.Generator) -> None:
    monkeypatch.setattr(tap_statistics, "CHUNK", 1000)  # 61 chunks, uneven last one
    x = torch.randn(60_500, generator=gen) * 2 - 5
    assert_stats_match_numpy(summarize(x), x)


def test_worker_threads_match_numpy_and_leave_the_thread_setting_alone(
    monkeypatch: pytest.MonkeyPatch, gen: torch.Generator
) -> None:
    monkeypatch.setattr(tap_statistics, "CHUNK", 4096)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # workers are used from 2 threads on
    try:
        x = torch.randn(300_001, generator=gen)
        assert_stats_match_numpy(summarize(x), x)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_non_contiguous_tensors(gen: torch.Generator) -> None:
    x = torch.randn(64, 48, generator=gen).t()[::2]
    s = summarize(x)
    assert_stats_match_numpy(s, x)
    assert s.shape == (24, 64)


def test_small_variance_around_a_large_mean_keeps_its_digits(gen: torch.Generator) -> None:
    x = (torch.randn(200_000, generator=gen, dtype=torch.float64) * 1e-3 + 1e4).to(torch.float32)
    a = x.double().numpy()
    assert summarize(x).std == pytest.approx(a.std(), rel=1e-4)


def test_finite_values_whose_squares_overflow_float32(gen: torch.Generator) -> None:
    x = torch.randn(1000, generator=gen) * 1e25  # x*x overflows float32, the values do not
    s = summarize(x)
    assert (s.nan_count, s.inf_count) == (0, 0)
    assert_stats_match_numpy(s, x)


def test_complex_tensors_are_summarised_by_magnitude() -> None:
    s = summarize(torch.tensor([3 + 4j, 0j]))
    assert (s.min, s.max, s.mean) == (0.0, 5.0, 2.5) and s.dtype == "complex64"


def test_empty_tensor() -> None:
    s = summarize(torch.zeros(0, 5))
    assert s.numel == 0 and s.heatmap.shape == (0, 0) and math.isnan(s.mean) and s.hist_counts == []
    assert decode(encode(s.to_frame("b1", "y", "out", 0))).numel == 0


def test_meta_tensors_are_refused() -> None:
    with pytest.raises(ValueError, match="meta"):
        summarize(torch.empty(3, device="meta"))


# -- NaN and Inf ----------------------------------------------------------------------------------
def test_nan_and_inf_are_counted_and_kept_out_of_the_statistics(gen: torch.Generator) -> None:
    x = torch.randn(8, 16, 16, generator=gen)
    x[0, 0, :3] = math.nan
    x[0, 1, 0], x[3, 2, 1] = math.inf, -math.inf
    s = summarize(x)
    assert (s.nan_count, s.inf_count) == (3, 2)
    assert_stats_match_numpy(s, x)
    assert sum(s.hist_counts) == x.numel() - 5
    # pixels of NaN show as no data (0); the rest of the row is normal
    assert s.heatmap.shape == (16, 16) and (s.heatmap[0, :3] == 0).all()
    assert math.isfinite(s.heatmap_min) and math.isfinite(s.heatmap_max)


def test_non_finite_values_in_many_chunks(monkeypatch: pytest.MonkeyPatch, gen: torch.Generator) -> None:
    monkeypatch.setattr(tap_statistics, "CHUNK", 777)
    x = torch.randn(50_000, generator=gen)
    x[::1000] = math.nan
    x[5::2000] = math.inf
    s = summarize(x)
    assert (s.nan_count, s.inf_count) == (50, 25)
    assert_stats_match_numpy(s, x)


def test_all_nan() -> None:
    s = summarize(torch.full((4, 4), math.nan))
    assert (s.nan_count, s.inf_count) == (16, 0)
    assert all(math.isnan(v) for v in (s.min, s.max, s.mean, s.std, s.heatmap_min))
    assert s.hist_counts == [] and s.hist_edges == [] and not s.heatmap.any()
    frame = decode(encode(s.to_frame("b1", "y", "out", 0)))
    assert isinstance(frame, TapFrame) and frame.nan_count == 16


def test_a_non_finite_half_tensor(gen: torch.Generator) -> None:
    x = torch.randn(100, generator=gen).half()
    x[7] = math.inf
    s = summarize(x)
    assert s.inf_count == 1
    assert_stats_match_numpy(s, x)


# -- histogram ------------------------------------------------------------------------------------
def test_histogram_matches_numpy_on_a_small_tensor(gen: torch.Generator) -> None:
    x = torch.randn(5000, generator=gen, dtype=torch.float64)
    s = summarize(x, bins=20)
    counts, edges = np.histogram(x.numpy(), bins=20, range=(s.min, s.max))
    assert s.hist_counts == counts.tolist()
    assert np.allclose(s.hist_edges, edges) and s.hist_edges[0] == s.min and s.hist_edges[-1] == s.max
    assert s.hist_sample == 5000


def test_histogram_of_a_big_tensor_is_an_even_sample(gen: torch.Generator) -> None:
    x = torch.rand(3_000_000, generator=gen)  # uniform: every bin about equal
    s = summarize(x)
    assert s.hist_sample == HIST_SAMPLE == sum(s.hist_counts)
    assert len(s.hist_counts) == 64 and len(s.hist_edges) == 65
    expected = HIST_SAMPLE / 64
    assert all(abs(c - expected) < 0.2 * expected for c in s.hist_counts)


# -- on the wire ----------------------------------------------------------------------------------
def test_summary_travels_as_a_tap_frame(gen: torch.Generator) -> None:
    x = torch.randn(4, 3, 32, 32, generator=gen)
    s = summarize(x)
    frame = decode(encode(s.to_frame("b7", "y", "out", 12)))
    assert isinstance(frame, TapFrame)
    assert (frame.block_id, frame.port, frame.direction, frame.step) == ("b7", "y", "out", 12)
    assert np.array_equal(wire_to_array(frame.heatmap), s.heatmap)
    assert (frame.min, frame.max, frame.mean, frame.std) == (s.min, s.max, s.mean, s.std)
    assert frame.shape == (4, 3, 32, 32) and frame.dtype == "float32"


def test_the_largest_frame_is_far_below_512_kib(gen: torch.Generator) -> None:
    s = summarize(torch.randn(2_000_000, generator=gen), bins=1024)  # a full 256x256 heatmap, max bins
    assert s.heatmap.shape == (256, 256)
    assert len(encode(s.to_frame("b" * 64, "p" * 64, "out", 2**62))) < 100 * 1024


def test_a_frame_of_1e8_elements_is_under_512_kib() -> None:
    x = torch.empty(64, 3, 1024, 512).uniform_(-1, 1, generator=torch.Generator().manual_seed(1))
    assert x.numel() > 10**8
    s = summarize(x)
    size = len(encode(s.to_frame("b1", "y", "out", 1)))
    assert size < 512 * 1024
    assert s.min >= -1 and s.max <= 1 and abs(s.mean) < 1e-3 and s.std == pytest.approx(1 / math.sqrt(3), rel=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_summary_matches_cpu(gen: torch.Generator) -> None:
    x = torch.randn(16, 8, 64, 64, generator=gen)
    x[0, 0, 0, 0] = math.nan
    cpu, gpu = summarize(x), summarize(x.cuda())
    assert np.array_equal(cpu.heatmap, gpu.heatmap)
    assert (cpu.nan_count, cpu.min, cpu.max) == (gpu.nan_count, gpu.min, gpu.max)
    assert gpu.mean == pytest.approx(cpu.mean, rel=1e-6) and gpu.std == pytest.approx(cpu.std, rel=1e-6)


@pytest.mark.parametrize("shape", [(32, 128), (7,), (300,), (4, 10), (2, 3, 5), (3, 3, 4, 4), (1000,), (64, 1)])
def test_the_small_tensor_fast_path_agrees_with_the_general_path(shape, monkeypatch):
    import dpg_blocks.engine.training.taps as taps

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) * 3 + 1
    fast = taps.summarize(x)
    monkeypatch.setattr(taps, "SMALL_NUMEL", 0)
    general = taps.summarize(x)
    assert fast.heatmap.shape == general.heatmap.shape
    assert np.abs(fast.heatmap.astype(int) - general.heatmap.astype(int)).max() <= 1
    assert fast.hist_counts == general.hist_counts and fast.hist_edges == general.hist_edges
    assert np.allclose([fast.min, fast.max, fast.mean, fast.std], [general.min, general.max, general.mean, general.std],
                       rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(32, 128), (2, 3, 40, 40), (5,)])
def test_a_frame_built_unchecked_is_exactly_the_checked_one(shape):
    from dpg_blocks.protocol import array_to_wire

    s = summarize(torch.randn(*shape))
    fast = s.to_frame("b1", "y", "out", 7)
    checked = TapFrame(
        block_id="b1", port="y", direction="out", step=7, shape=s.shape, dtype=s.dtype, numel=s.numel,
        heatmap=array_to_wire(s.heatmap), heatmap_min=s.heatmap_min, heatmap_max=s.heatmap_max,
        min=s.min, max=s.max, mean=s.mean, std=s.std, hist_counts=s.hist_counts, hist_edges=s.hist_edges,
        hist_sample=s.hist_sample, nan_count=s.nan_count, inf_count=s.inf_count,
    )
    assert fast == checked
    assert decode(encode(fast)) == checked


def test_an_input_tap_on_a_custom_block_reads_its_input_not_the_signal() -> None:
    """Custom blocks are called as module(order, target, *inputs): the "in x" tap must skip the
    order and the target and show the tensor on the port (DANN's gradient reversal)."""
    from engine_fixtures import registry

    from dpg_blocks import protocol as m
    from dpg_blocks.core import load_project
    from dpg_blocks.engine.training.session import TrainingSession

    examples = Path(__file__).resolve().parents[1] / "assets" / "examples"
    project = load_project(examples / "dann_digits.dpgb")
    grl = next(b for b in project.graph.blocks.values() if b.type == "builtin.Custom")
    copy = next(b for b in project.graph.blocks.values() if b.name == "Copy")
    frames: list[m.TapFrame] = []
    session = TrainingSession(lambda ev: None, frames.append, project, registry(), str(examples),
                              request_id=1, epochs=1, trusted=True)
    try:
        session.taps.configure([m.TapSpec(grl.id, "x", "in"), m.TapSpec(copy.id, "y2", "out")], rate_hz=1000.0)
        while not frames:
            session.step()
        got = {(f.block_id, f.direction): f for f in frames}
        tapped_in, driver = got[(grl.id, "in")], got[(copy.id, "out")]
        assert len(tapped_in.shape) == 4 and tapped_in.dtype == "float32"
        assert (tapped_in.shape, tapped_in.mean, tapped_in.std) == (driver.shape, driver.mean, driver.std)
    finally:
        session.close()
