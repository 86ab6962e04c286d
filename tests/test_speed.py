"""Speed paths give the same files and images: fused iterations, batches, threads."""

import os
import subprocess
import sys

import numpy as np
import pytest

from rnncomp import codec


@pytest.fixture(scope="module")
def model():
    return codec.resolve_model(None)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_fused_iterations_match_the_step_by_step_loop(model, kodak_samples, thumbs, k):
    for images in (thumbs[:5], kodak_samples[0][1][None, :96, :160]):
        fused, steps = model.encode(images, k, fused=True), model.encode(images, k, fused=False)
        assert np.array_equal(fused.bits, steps.bits)
        a, b = model.decode(steps, fused=True), model.decode(steps, fused=False)
        assert np.abs(a - b).max() < 1e-5  # float round-off only; no uint8 pixel moves by more than 1
        assert np.abs(codec.to_uint8(a).astype(int) - codec.to_uint8(b)).max() <= 1


def test_fused_functions_do_not_retrace_per_image_size(model):
    rng = np.random.default_rng(0)
    for h, w in [(32, 32), (48, 80), (17, 33), (64, 64)]:
        model.decode(model.encode(rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8), 2))
    assert model.fused_fn("encode").experimental_get_tracing_count() == 1
    assert model.fused_fn("decode").experimental_get_tracing_count() == 1


def test_batches_give_the_same_files_and_images(model, thumbs):
    single = [codec.compress(x, model) for x in thumbs]
    for batch in (1, 5, 64):
        assert codec.compress_batch(thumbs, model, batch=batch) == single
    images = [codec.decompress(f) for f in single]
    for batch in (1, 7):
        for a, b in zip(codec.decompress_batch(single, batch=batch), images):
            assert np.abs(a.astype(int) - b).max() <= 1


@pytest.mark.slow  # 32 s; test_balle2018 checks thread independence of the latent files in the default suite
def test_thread_settings_give_the_same_files(tmp_path, thumbs):
    from PIL import Image

    src = tmp_path / "t.png"
    Image.fromarray(np.concatenate(list(thumbs[:4]), axis=1)).save(src)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.rnc"
        subprocess.run([sys.executable, "-m", "rnncomp.cli", "compress", str(src), "-o", str(out), "-q",
                        "--threads", str(threads)], check=True, env=env, timeout=300)
        png = tmp_path / f"t{threads}.png"
        subprocess.run([sys.executable, "-m", "rnncomp.cli", "decompress", str(out), "-o", str(png), "-q",
                        "--threads", str(threads)], check=True, env=env, timeout=300)
        outs.append((out.read_bytes(), np.asarray(Image.open(png))))
    assert outs[0][0] == outs[1][0]
    assert np.abs(outs[0][1].astype(int) - outs[1][1]).max() <= 1
