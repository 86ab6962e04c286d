"""The decoder's memory budget: files declaring huge images are refused from the header, quickly."""

import time

import numpy as np
import pytest

from rnncomp import bitstream, budget, codec
from rnncomp.bitstream import BitstreamError, CompactHeader, Header, LatentHeader
from rnncomp.cli import main

FP = b"\x12\x34\x56\x78"


def _binary(height, width, tile=0, overlap=0, k=1):
    """A valid raw-coded file of all-zero codes (the writer's own checks)."""
    header = Header(height=height, width=width, stride=16, bits=8, iterations=k, coder="raw", fingerprint=FP,
                    tile=tile, overlap=overlap)
    return bitstream.write(np.zeros((k,) + header.iteration_shape, np.uint8), header)


def _compact(height, width):
    header = CompactHeader(height=height, width=width, scale=4, channels=3, levels=2, coder="raw", fingerprint=FP)
    return bitstream.write_compact(np.zeros(header.compact_shape, np.uint8), header)


def _latent(height, width):
    return bitstream.write_latent(b"\xff" * 64, LatentHeader(height=height, width=width, stride=16, rate=1,
                                                              fingerprint=FP))


HUGE = {
    "untiled 4096x4096": lambda: _binary(4096, 4096),
    "untiled 16384x4096": lambda: _binary(16384, 4096),
    "untiled 1025x1024": lambda: _binary(1025, 1024),
    "tiled, one 16384x4096 window": lambda: _binary(16384, 4096, tile=16384, overlap=32),
    "tiled, 2048-px windows": lambda: _binary(4096, 4096, tile=2048, overlap=32),
    "end-to-end 4096x4096": lambda: _compact(4096, 4096),
    "latent 4096x4096": lambda: _latent(4096, 4096),
}


@pytest.mark.parametrize("name", list(HUGE))
def test_files_declaring_huge_images_are_refused_before_a_model_loads(name):
    data = HUGE[name]()
    assert bitstream.verify(data)  # a valid file: its checks pass
    t0 = time.perf_counter()
    with pytest.raises(BitstreamError, match=r"over the decoder's limit of \d+ .*--max-pixels \d+") as e:
        codec.decompress(data)  # no model given: the budget refuses before one is looked for
    assert time.perf_counter() - t0 < 1.0 and "\n" not in str(e.value)


def test_the_defaults_are_what_the_encoder_runs_at_once():
    from rnncomp.families import BinaryFileCodec, CompactFileCodec, LatentFileCodec
    from rnncomp.tiling import TILE

    largest = bitstream.parse(_binary(TILE, TILE))  # the largest image the encoder writes untiled
    assert BinaryFileCodec.check_budget(largest.header) == TILE * TILE
    tiled = bitstream.parse(_binary(16384, 4096, tile=TILE, overlap=32))  # the encoder's windows: accepted
    assert BinaryFileCodec.decode_pixels(tiled.header)[0] <= TILE * TILE
    BinaryFileCodec.check_budget(tiled.header)
    for family, data in ((CompactFileCodec, _compact(2048, 2048)), (LatentFileCodec, _latent(2048, 2048))):
        family.check_budget(bitstream.parse(data).header)
        with pytest.raises(BitstreamError):
            family.check_budget(bitstream.parse(data).header, max_pixels=2048 * 2048 - 1)
    with pytest.raises(BitstreamError):
        BinaryFileCodec.check_budget(largest.header, max_pixels=TILE * TILE - 1)
    assert BinaryFileCodec.check_budget(bitstream.parse(_binary(4096, 4096)).header, max_pixels=1 << 24) == 1 << 24
    with pytest.raises(Exception, match="positive"):
        budget.resolve(0, "binary")


@pytest.fixture(scope="module")
def model():
    from rnncomp.registry import get_model

    return get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=2, bits=8, seed=0)


def _decode_batches(model, monkeypatch):
    sizes = []
    decode = model.decode

    def spy(codes, *a, **kw):
        sizes.append(codes.batch)
        return decode(codes, *a, **kw)

    monkeypatch.setattr(model, "decode", spy)
    return sizes


def test_windows_and_files_run_together_only_while_they_fit(model, monkeypatch):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 200, 3), np.uint8)
    data = codec.compress(image, model, iterations=2, tile=64)  # one row of 64x64 windows
    layout = bitstream.parse(data).header.layout
    n = len(layout.xs)
    assert layout.window == (64, 64) and len(layout.ys) == 1 and n % 2 == 0
    whole = codec.decompress(data, model, tile_batch=8)
    sizes = _decode_batches(model, monkeypatch)
    again = codec.decompress(data, model, tile_batch=8, max_pixels=2 * 64 * 64 + 1)
    assert sizes == [2] * (n // 2)  # at most 2 windows at once, whatever tile_batch asks
    np.testing.assert_array_equal(again, whole)
    files = [codec.compress(rng.integers(0, 256, (32, 32, 3), np.uint8), model, iterations=2) for _ in range(5)]
    sizes.clear()
    codec.decompress_batch(files, model, max_pixels=3 * 32 * 32)
    assert sizes == [3, 2]
    with pytest.raises(BitstreamError, match="max-pixels"):
        list(codec.decompress_progressive(files[0], model, max_pixels=32 * 32 - 1))
    with pytest.raises(BitstreamError, match="max-pixels"):
        codec.decompress_batch(files, model, max_pixels=100)


def test_a_file_over_the_default_is_written_with_a_notice_and_refused_by_default(model):
    from rnncomp.errors import RnncompWarning

    image = np.full((1024, 1040, 3), 100, np.uint8)
    with pytest.warns(RnncompWarning, match="max_pixels=1064960"):
        data = codec.compress(image, model, iterations=1, tile=0)  # untiled on request: over 1024x1024
    with pytest.raises(BitstreamError, match="--max-pixels 1064960"):
        codec.decompress(data, model)


def test_cli_refuses_in_one_line_and_names_the_option(tmp_path, capsys):
    path = tmp_path / "huge.rnc"
    path.write_bytes(_binary(4096, 4096))
    assert main(["decompress", str(path), "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-pixels 16777216" in err[0] and not (tmp_path / "out.png").exists()
    # Raising the limit gets past the budget, to the next check (this file's model is not shipped).
    assert main(["decompress", str(path), "-o", str(tmp_path / "out.png"), "--max-pixels", "16777216"]) == 2
    assert "not shipped" in capsys.readouterr().err
