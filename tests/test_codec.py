"""The file codec: images through real .rnc files and back with a tiny (untrained) model."""

import numpy as np
import pytest
from PIL import Image

import rnncomp
from rnncomp import bitstream, codec, zoo
from rnncomp.bitstream import BitstreamError, WrongModelError
from rnncomp.errors import RnncompError

from conftest import make_context_model, make_prior

K = 4


@pytest.fixture(scope="module")
def model():
    from rnncomp.registry import get_model

    m = get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=K, bits=8, seed=0)
    m.context_prior = make_prior(8)  # so that every coder, "prior" included, can be tested
    m.context_model = make_context_model(8)  # and "learned"
    return m


@pytest.fixture(scope="module")
def other_model():
    from rnncomp.registry import get_model

    return get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=K, bits=8, seed=1)


def image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    smooth = np.stack([x * 255 // max(width, 1), y * 255 // max(height, 1), (x + y) % 256], -1)
    return np.clip(smooth + rng.integers(-20, 20, (height, width, 3)), 0, 255).astype(np.uint8)


def reference(model, img, k):
    codes = model.encode(img, K)
    return codec.to_uint8(model.decode(codes, k)[0])


@pytest.mark.parametrize("size", [(32, 32), (37, 53), (5, 3)])
@pytest.mark.parametrize("entropy", codec.ENTROPY_CODERS)
def test_roundtrip_through_files_equals_model_decode(model, tmp_path, size, entropy):
    img = image(*size)
    path = tmp_path / "x.rnc"
    path.write_bytes(codec.compress(img, model, iterations=K, entropy=entropy))
    data = path.read_bytes()
    header = bitstream.read_header(data)
    assert (header.height, header.width, header.coder, header.iterations) == (*size, entropy, K)
    codes = model.encode(img, K)
    for j in range(1, K + 1):
        want = codec.to_uint8(model.decode(codes, j)[0])
        cut = tmp_path / f"cut{j}.rnc"
        cut.write_bytes(bitstream.truncate(data, j))
        got = codec.decompress(cut.read_bytes(), model)
        assert got.dtype == np.uint8 and got.shape == size + (3,)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(codec.decompress(data, model, iterations=j), want)


def test_progressive_and_partial(model):
    img = image(37, 53)
    data = codec.compress(img, model)
    images = list(codec.decompress_progressive(data, model))
    assert len(images) == K
    for j, got in enumerate(images, 1):
        np.testing.assert_array_equal(got, reference(model, img, j))
    two = len(bitstream.truncate(data, 2))
    cut = data[: two + 1]  # chunk 3 has barely begun
    with pytest.raises(BitstreamError):
        codec.decompress(cut, model)
    got = codec.decompress(cut, model, partial=True)
    np.testing.assert_array_equal(got, reference(model, img, 2))


def test_inputs_pil_float_gray(model):
    img = image(32, 32)
    a = codec.compress(img, model, iterations=2)
    assert codec.compress(Image.fromarray(img), model, iterations=2) == a
    gray = img[..., 0]
    assert codec.compress(gray, model, iterations=2) == codec.compress(np.stack([gray] * 3, -1), model, iterations=2)
    f = codec.compress(img.astype(np.float32) / 255.0, model, iterations=2)
    assert bitstream.read_header(f).iterations == 2
    with pytest.raises(RnncompError):
        codec.compress(np.zeros((4, 4, 4), np.uint8), model)
    with pytest.raises(RnncompError):
        codec.compress(np.full((4, 4, 3), 2.0, np.float32), model)


def test_output_is_deterministic(model):
    img = image(37, 53)
    assert codec.compress(img, model) == codec.compress(img, model)


def test_bpp_picks_the_largest_iteration_count_that_fits(model):
    img = image(37, 53)
    full = codec.compress(img, model, iterations=K)
    pixels = 37 * 53
    bpps = [8 * len(bitstream.truncate(full, j)) / pixels for j in range(1, K + 1)]
    for j, b in enumerate(bpps, 1):
        got = codec.compress(img, model, bpp=b)
        assert bitstream.read_header(got).iterations == j and 8 * len(got) / pixels <= b
        assert bitstream.read_header(codec.compress(img, model, bpp=b + 1e-3)).iterations == j
    with pytest.raises(RnncompError, match="below the smallest"):
        codec.compress(img, model, bpp=bpps[0] * 0.99)
    with pytest.raises(RnncompError, match="not both"):
        codec.compress(img, model, iterations=2, bpp=1.0)


def test_wrong_model_is_refused(model, other_model):
    data = codec.compress(image(32, 32), model, iterations=2)
    with pytest.raises(WrongModelError, match="fingerprint"):
        codec.decompress(data, other_model)
    with pytest.raises(RnncompError, match="not shipped"):
        codec.decompress(data)  # unnamed model and none given


def test_fingerprint(model, other_model, tmp_path):
    from rnncomp.models.checkpoint import load_checkpoint, save_checkpoint

    fp = zoo.fingerprint(model)
    assert len(fp) == 4 and fp != zoo.fingerprint(other_model)
    save_checkpoint(model, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck")
    assert zoo.fingerprint(loaded) != fp  # the checkpoint has no context prior: it codes differently
    loaded.context_prior = model.context_prior
    assert zoo.fingerprint(loaded) == fp


def test_every_truncation_and_flip_of_a_real_file_is_a_bitstream_error(model):
    data = codec.compress(image(32, 32), model, iterations=2)
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            codec.decompress(data[:n], model)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x10
        with pytest.raises(BitstreamError):
            codec.decompress(bytes(bad), model)


def test_lazy_top_level_exports(model):
    assert rnncomp.compress is codec.compress and rnncomp.decompress is codec.decompress


def test_measure(model):
    res = codec.measure([("a", image(37, 53))], model, 2)
    assert set(res["bpp"]) == set(codec.ENTROPY_CODERS) and len(res["bpp"]["raw"]) == 2
    assert res["header_bytes"] == 13


def test_auto_keeps_the_smallest_coder_and_bpp_keeps_the_most_iterations(model):
    img = image(37, 53)
    files = {c: codec.compress(img, model, iterations=K, entropy=c) for c in codec.auto_coders(model)}
    assert codec.auto_coders(model) == [c for c in codec.usable_coders(model) if c != "learned"]
    auto = codec.compress(img, model, iterations=K)  # the default is auto
    assert len(auto) == min(len(f) for f in files.values())
    assert bitstream.read_header(auto).coder in files and auto in files.values()
    budget = 8.0 * len(bitstream.truncate(auto, 2)) / (37 * 53)
    cut = codec.compress(img, model, bpp=budget)
    assert bitstream.read_header(cut).iterations >= 2 and 8.0 * len(cut) / (37 * 53) <= budget


def test_decoders_accept_a_path_as_well_as_bytes(model, tmp_path):
    img = image(16, 16)
    path = tmp_path / "x.rnc"
    path.write_bytes(codec.compress(img, model, iterations=2, entropy="raw"))
    want = codec.decompress(path.read_bytes(), model)
    for source in (str(path), path):
        np.testing.assert_array_equal(rnncomp.decompress(source, model), want)
        np.testing.assert_array_equal(list(codec.decompress_progressive(source, model))[-1], want)
        np.testing.assert_array_equal(codec.decompress_batch([source], model)[0], want)
        assert codec.open_file(source, model)[0].header.iterations == 2
    with pytest.raises(RnncompError, match="missing.rnc"):
        codec.open_file(str(tmp_path / "missing.rnc"), model)


def test_pil_images_are_read_like_files():
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    with pytest.warns(rnncomp.errors.RnncompWarning, match="composited on white"):
        assert (codec.as_image(rgba) == 255).all()
