"""The 'prior' entropy coder: fitted starting counts, exact round trips, and what it buys small images."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnncomp import bitstream, codec
from rnncomp.entropy import new_coder
from rnncomp.entropy.prior import fit_prior, load_prior, save_prior, scale_counts
from rnncomp.errors import RnncompError


def skewed_codes(n, k=8, h=2, w=2, c=32, seed=0):
    """Codes whose channels have fixed, skewed probabilities (the same for every image)."""
    p = np.random.default_rng(123).beta(0.4, 0.4, c)
    rng = np.random.default_rng(seed)
    return (rng.random((n, k, h, w, c)) < p).astype(np.uint8)


def coded_bytes(name, bits, prior=None):
    coder = new_coder(name, *bits.shape[1:], prior=prior)
    total = 0
    for t in range(bits.shape[0]):
        p = coder.encode(bits[t])
        total += coder.raw_size if p is None else len(p)
    return total


def test_scale_counts_caps_totals_and_keeps_ratios():
    n, n1 = scale_counts(np.array([10, 1000, 4000]), np.array([5, 250, 4000]), 100)
    assert n.tolist() == [10, 100, 100] and n1.tolist() == [5, 25, 100]


def test_a_fitted_prior_codes_small_images_in_fewer_bytes_exactly(tmp_path):
    prior = fit_prior(skewed_codes(200, seed=1), weight=256)
    assert int(prior["images"]) == 200 and prior["fine_n"].max() <= 256
    path = save_prior(tmp_path / "p.npz", prior)
    prior = load_prior(path)
    test = skewed_codes(40, seed=2)
    with_prior = sum(coded_bytes("prior", b, prior) for b in test)
    without = sum(coded_bytes("context", b) for b in test)
    raw = sum(coded_bytes("raw", b) for b in test)
    assert with_prior < 0.9 * without and without <= raw
    for b in test[:5]:  # exact round trip through files
        header = bitstream.Header(height=32, width=32, stride=16, bits=32, iterations=8, coder="prior")
        data = bitstream.write(b, header, prior=prior)
        np.testing.assert_array_equal(bitstream.read_codes(data, prior=prior)[1], b)
        with pytest.raises(RnncompError, match="needs the model's context prior"):
            bitstream.read_codes(data)


def test_load_prior_refuses_bad_tables(tmp_path):
    np.savez(tmp_path / "bad.npz", fine_n=np.array([1]), fine_1=np.array([2]), coarse_n=np.array([1]),
             coarse_1=np.array([0]))
    with pytest.raises(RnncompError, match="corrupt"):
        load_prior(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(RnncompError, match="not a context prior"):
        load_prior(tmp_path / "junk.npz")


def test_model_with_prior_compresses_with_it_by_default_and_fingerprint_covers_it(tmp_path, thumbs):
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model
    from rnncomp.zoo import fingerprint, load_model

    model = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=3, bits=8, seed=0)
    save_checkpoint(model, tmp_path / "ck")
    plain = load_model(tmp_path / "ck")
    with pytest.raises(RnncompError, match="no context prior"):
        codec.compress(thumbs[0], plain, entropy="prior")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    p = subprocess.run([sys.executable, "-m", "rnncomp.cli", "fit-prior", "--model", "ck", "--data",
                        str(codec.Path(__file__).parents[1] / "rnncomp/samples/thumbs32/thumbs32-sample.npz"),
                        "--iterations", "3", "--out", "ck/context-prior.npz"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "from 16 images" in p.stdout
    with_prior = load_model(tmp_path / "ck")
    assert with_prior.context_prior is not None
    assert fingerprint(with_prior) != fingerprint(plain)
    data = codec.compress(thumbs[1], with_prior, entropy="prior")
    assert bitstream.read_header(data).coder == "prior"
    back = codec.decompress(data, with_prior)
    same = codec.decompress(codec.compress(thumbs[1], with_prior, entropy="context"), with_prior)
    np.testing.assert_array_equal(back, same)  # the coder changes the bytes, never the image
    with pytest.raises(bitstream.WrongModelError):
        codec.decompress(data, plain)
