"""Tiles (rnncomp.tiling) and tiled files: layout, cross-fade, format, bounded decoding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncomp import bitstream, codec
from rnncomp.bitstream import BitstreamError, Header
from rnncomp.tiling import TileLayout, axis_windows, blend_rows


@settings(max_examples=300, deadline=None)
@given(length=st.integers(1, 20000), tile_blocks=st.integers(4, 80), overlap_blocks=st.integers(1, 4),
       stride=st.sampled_from([8, 16, 32]))
def test_axis_windows_cover_the_axis_with_the_overlap(length, tile_blocks, overlap_blocks, stride):
    tile, overlap = tile_blocks * stride, min(overlap_blocks * stride, tile_blocks * stride // 2)
    w, starts = axis_windows(length, tile, overlap, stride)
    if length <= tile:
        assert (w, starts) == (length, [0])
        return
    n = len(starts)
    assert n == -(-(length - overlap) // (tile - overlap))  # the fewest windows of at most `tile`
    assert w <= tile and w % stride == 0
    assert starts[0] == 0 and starts[-1] + w == length and starts == sorted(starts)
    for a, b in zip(starts, starts[1:]):
        assert a + w - b >= overlap - 1  # neighbours overlap (rounding may take one pixel)


@pytest.mark.parametrize("shape", [(100, 300), (2100, 70), (3000, 4000), (1025, 1025)])
def test_weights_sum_to_one(shape):
    layout = TileLayout(*shape, 16, 1024 if max(shape) > 1500 else 64, 32 if max(shape) > 1500 else 16)
    wy, wx = layout.weights
    for starts, weights, length, w in ((layout.ys, wy, shape[0], layout.window[0]),
                                       (layout.xs, wx, shape[1], layout.window[1])):
        total = np.zeros(length)
        for a, weight in zip(starts, weights):
            assert weight.min() > 0
            total[a:a + w] += weight
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_blend_rows_reassembles_windows_cut_from_an_image(kodak_samples):
    image = kodak_samples[0][1]
    layout = TileLayout(*image.shape[:2], 16, 128, 16)
    assert layout.tiled and len(layout.windows) > 4
    h, w = layout.window
    x = image.astype(np.float32) / 255.0
    out = blend_rows(layout, lambda i: [x[layout.ys[i]:layout.ys[i] + h, xx:xx + w] for xx in layout.xs])
    np.testing.assert_array_equal(out, image)  # windows that agree blend to the image itself


def test_tiled_header_round_trip_and_hostile_values():
    h = Header(height=3000, width=4000, stride=16, bits=32, iterations=2, coder="raw",
               tile=1024, overlap=32)
    assert h.code_shape == h.layout.code_shape == (3 * 64, 4 * 64)
    bits = np.random.default_rng(0).integers(0, 2, (2,) + h.iteration_shape, dtype=np.uint8)
    data = bitstream.write(bits, h)
    back, codes = bitstream.read_codes(data)
    assert back == h and np.array_equal(codes, bits)
    assert bitstream.read_header(bitstream.truncate(data, 1)).tile == 1024
    assert bitstream.describe(data)["windows"] == 12
    for bad in [dict(tile=1000, overlap=32), dict(tile=1024, overlap=0), dict(tile=64, overlap=48)]:
        with pytest.raises(BitstreamError):
            Header(height=3000, width=4000, stride=16, bits=32, iterations=2, **bad)
    flags = bytearray(data)
    flags[3] |= 0x10  # tiled and end-to-end at once
    with pytest.raises(BitstreamError):
        bitstream.read_header(bytes(flags))
    flags = bytearray(data)
    flags[3] |= 0x40  # a reserved bit
    with pytest.raises(BitstreamError, match="reserved"):
        bitstream.read_header(bytes(flags))


@pytest.fixture(scope="module")
def model():
    return codec.resolve_model(None)


def test_tiled_file_is_independent_of_tile_batch_and_has_no_seams(model, kodak_samples):
    image = kodak_samples[0][1][:256, :256]  # 128-px tiles, 32 px of overlap: 3 x 3 windows of 112 px
    files = [codec.compress(image, model, iterations=4, tile=128, tile_batch=b) for b in (1, 2, 6)]
    assert files[0] == files[1] == files[2]
    header = bitstream.read_header(files[0])
    assert header.tile == 128 and len(header.layout.windows) == 9
    decoded = [codec.decompress(files[0], tile_batch=b) for b in (1, 4)]
    # oneDNN picks other kernels for another batch size (AVX-512): float outputs may differ in the
    # last bits, so a pixel may round to the next level; the images are otherwise the same.
    diff = np.abs(decoded[0].astype(int) - decoded[1].astype(int))
    assert diff.max() <= 1 and np.mean(diff) < 1e-3
    assert [x.shape for x in codec.decompress_progressive(files[0])] == [image.shape]  # one image
    # Seams: at window borders the tiled image is as good as the whole-image codec on the same pixels.
    whole = codec.decompress(codec.compress(image, model, iterations=4, tile=0))
    from rnncomp.tools.bench import window_border_mask
    from rnncomp.tools.bench.seams import _psnr_where as _psnr

    mask = window_border_mask(header.layout)
    assert _psnr(image, decoded[0], mask) > _psnr(image, whole, mask) - 0.5
    assert abs(_psnr(image, decoded[0], ~mask) - _psnr(image, whole, ~mask)) < 1.0
    # A cut tiled file decodes its complete iterations.
    cut = bitstream.truncate(files[0], 2)
    assert np.array_equal(codec.decompress(cut), codec.decompress(files[0], iterations=2))


def test_small_images_are_never_tiled(model, kodak_samples):
    image = kodak_samples[1][1]
    assert codec.compress(image, model, iterations=2) == codec.compress(image, model, iterations=2, tile=0)
    assert not bitstream.read_header(codec.compress(image, model, iterations=2)).tile
    with pytest.raises(Exception, match="multiple of the stride"):
        codec.compress(image, model, iterations=1, tile=100)


def test_cli_tile_option_and_info(tmp_path, samples_dir, capsys):
    from rnncomp.cli import main

    src = sorted((samples_dir / "kodak").glob("*.png"))[0]
    out = tmp_path / "t.rnc"
    assert main(["compress", str(src), "-o", str(out), "--iterations", "2", "--tile", "128", "-q"]) == 0
    assert main(["info", str(out)]) == 0
    assert "tiled:" in capsys.readouterr().out
    assert main(["decompress", str(out), "-o", str(tmp_path / "t.png"), "-q"]) == 0
    from rnncomp.images import load_image

    assert load_image(tmp_path / "t.png").shape == load_image(src).shape
