"""The file-codec contract, tested once for every model family (``rnncomp.families``).

A new family is tested by adding one entry to :data:`FAMILIES`: a tiny model,
two of its rate points, and its decoding variants.
"""

from dataclasses import dataclass

import numpy as np
import pytest

from rnncomp import bitstream, codec, families
from rnncomp.errors import BitstreamError, RnncompError, WrongModelError

from conftest import make_context_model, make_prior


@dataclass(frozen=True)
class Case:
    name: str
    family: type
    build: object  # seed -> a tiny untrained model
    rates: tuple  # two rate points, lower first


def _recurrent(seed):
    from rnncomp.registry import get_model

    m = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=3, bits=8, seed=seed)
    m.context_prior = make_prior(8)  # every coder, "prior" included
    m.context_model = make_context_model(8)  # and "learned" (which auto never picks)
    return m


def _convdeconv(seed):
    from rnncomp.registry import get_model

    return get_model("toderici2017-convdeconv", width_multiplier=0.0625, bits=8, seed=seed)


def _e2e(seed):
    from rnncomp.config import E2EConfig
    from rnncomp.models.checkpoint import build_model

    return build_model(E2EConfig(icm_filters=8, irm_filters=8, levels=(256, 16), seed=seed))


def _hyperprior(seed):
    from rnncomp.registry import get_model

    return get_model("balle2018-hyperprior", filters=16, latent_channels=24, lmbdas=[0.002, 0.02],
                     rate_substeps=2, default_rate=1, seed=seed)


def _factorized(seed):
    from rnncomp.registry import get_model

    return get_model("balle2018-factorized", filters=16, latent_channels=24, lmbdas=[0.002, 0.02],
                     rate_substeps=2, default_rate=1, seed=seed)


FAMILIES = [
    Case("recurrent", families.BinaryFileCodec, _recurrent, (1, 3)),
    Case("convdeconv", families.BinaryFileCodec, _convdeconv, (1, 1)),
    Case("e2e", families.CompactFileCodec, _e2e, (8, 64)),
    Case("hyperprior", families.LatentFileCodec, _hyperprior, (0, 2)),
    Case("factorized", families.LatentFileCodec, _factorized, (0, 2)),
]


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda c: c.name)
def case(request):
    c = request.param
    return c, c.build(0)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:37, 0:53]
    smooth = np.stack([x * 4, y * 6, (x + y) * 2], -1)
    return np.clip(smooth + rng.integers(-20, 20, (37, 53, 3)), 0, 255).astype(np.uint8)


def _rate(fc, r):
    return {fc.rate_name: r}


def test_the_registry_picks_the_family_from_the_model_and_from_the_file(case, image):
    c, model = case
    fc = families.for_model(model)
    assert type(fc) is c.family and fc.model is model
    f = bitstream.parse(codec.compress(image, model, **_rate(fc, c.rates[-1])))
    assert families.for_file(f) is c.family
    assert set(fc.auto_coders()) <= set(fc.usable_coders()) <= set(fc.coders)
    assert "learned" not in fc.auto_coders() and (c.name != "recurrent" or "learned" in fc.usable_coders())
    assert c.rates[-1] in fc.rate_points()


def test_every_coder_and_rate_round_trips_through_real_files(case, image):
    c, model = case
    fc = families.for_model(model)
    decoded = {}
    for r in c.rates:
        for coder in fc.usable_coders():
            data = codec.compress(image, model, entropy=coder, **_rate(fc, r))
            f = bitstream.parse(data)
            assert f.header.coder in (coder, "raw")  # a coder may fall back to raw where that is smaller
            out = codec.decompress(data, model)
            assert out.shape == image.shape and out.dtype == np.uint8
            decoded.setdefault(r, out)
            assert np.array_equal(out, decoded[r]), "the coders disagree on the image"
        auto = codec.compress(image, model, **_rate(fc, r))
        assert len(auto) == min(len(codec.compress(image, model, entropy=x, **_rate(fc, r)))
                                for x in fc.auto_coders())


def test_a_bpp_budget_gives_the_best_file_that_fits(case, image):
    c, model = case
    fc = families.for_model(model)
    pixels = image.shape[0] * image.shape[1]
    low = codec.compress(image, model, **_rate(fc, c.rates[0]))
    budget = 8.0 * len(low) / pixels + 1e-9
    data = codec.compress(image, model, bpp=budget)
    assert 8.0 * len(data) / pixels <= budget
    with pytest.raises(RnncompError, match="below the smallest file"):
        codec.compress(image, model, bpp=1e-4)


def test_batches_give_the_same_files_and_images(case, image):
    c, model = case
    fc = families.for_model(model)
    images = [image, image[::-1].copy(), image[:, ::-1].copy()]
    files = codec.compress_batch(images, model, **_rate(fc, c.rates[-1]))
    assert files == [codec.compress(x, model, **_rate(fc, c.rates[-1])) for x in images]
    outs = codec.decompress_batch(files, model)
    for data, out in zip(files, outs):
        alone = codec.decompress(data, model)
        # A batched float decoder may sum in another order: a value at a half level can
        # round one level apart (CI saw it), never more, and only in a few values.
        diff = np.abs(out.astype(int) - alone.astype(int))
        assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.01 * diff.size


def test_progressive_steps_end_at_the_whole_file(case, image):
    c, model = case
    fc = families.for_model(model)
    data = codec.compress(image, model, **_rate(fc, c.rates[-1]))
    steps = list(codec.decompress_progressive(data, model))
    assert len(steps) == (bitstream.parse(data).header.iterations if fc.progressive else 1)
    assert np.array_equal(steps[-1], codec.decompress(data, model))


def test_damaged_files_and_other_models_give_clear_errors(case, image):
    c, model = case
    fc = families.for_model(model)
    data = codec.compress(image, model, **_rate(fc, c.rates[-1]))
    for bad in (data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1]), b"RN" + bytes(10), b""):
        with pytest.raises(BitstreamError):
            codec.decompress(bad, model)
    with pytest.raises(WrongModelError):
        codec.decompress(data, c.build(1))  # same family, other weights
    others = [o for o in FAMILIES if o.family is not c.family]
    for other in others[:1]:
        with pytest.raises(WrongModelError):
            codec.decompress(data, other.build(0))


def test_a_parsed_file_is_not_parsed_again(case, image, monkeypatch):
    c, model = case
    fc = families.for_model(model)
    f = bitstream.parse(codec.compress(image, model, **_rate(fc, c.rates[-1])))
    want = codec.decompress(f.data, model)
    calls = []
    monkeypatch.setattr(bitstream, "_parse_header", lambda *a: calls.append(a) or (_ for _ in ()).throw(
        AssertionError("parsed again")))
    monkeypatch.setattr(bitstream, "_parse_compact_header", bitstream._parse_header)
    assert np.array_equal(codec.decompress(f, model), want)
    assert bitstream.verify(f) is f.header and calls == []


def test_evaluate_measures_real_files_of_every_family(case, image):
    from rnncomp.evaluation.evaluate import evaluate_model

    c, model = case
    fc = families.for_model(model)
    rates = sorted(set(c.rates))
    first = fc.coders[0]
    res = evaluate_model(model, [("img", image)], rates, coders=(first, "auto"), progress=False, headerless=True)
    assert {first, "auto", f"{first}-headerless", "auto-headerless"} <= set(res)
    auto = res["auto"]["results"]
    assert auto["quality"] == rates and auto[fc.rate_name] == rates
    for n, r in enumerate(rates):  # bpp counts the bytes of the file compress writes
        data = codec.compress(image, model, **_rate(fc, r))
        assert auto["bpp"][n] == pytest.approx(8.0 * len(data) / (37 * 53))
        assert res["auto-headerless"]["results"]["bpp"][n] < auto["bpp"][n]
