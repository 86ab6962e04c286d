import json

import numpy as np
import pytest

from rnncomp.evaluation.baselines import get_codec
from rnncomp.errors import RnncompError
from rnncomp.evaluation.evaluate import evaluate_codec, write_result
from rnncomp.images import load_images
from rnncomp.evaluation.metrics import psnr


def test_result_has_compressai_shape_and_real_rates(samples_dir, tmp_path):
    images = load_images(samples_dir / "thumbs32", limit=5)
    codec = get_codec("jpeg")
    result = evaluate_codec(codec, images, qualities=[30, 80], progress=False)
    r = result["results"]
    for key in ("bpp", "psnr-rgb", "ms-ssim-rgb", "ssim-rgb", "mse-rgb", "quality",
                "encoding_time", "decoding_time"):
        assert len(r[key]) == 2, key
    assert r["quality"] == [30, 80] and r["bpp"][1] > r["bpp"][0]
    assert result["ms_ssim_variant"].startswith("ms-ssim-small")
    # Means are over images of values computed from the bytes really written.
    name, image = images[3]
    enc = codec.encode(image, 80)
    assert result["per_image"][name]["bpp"][1] == enc.bpp
    assert result["per_image"][name]["psnr-rgb"][1] == pytest.approx(psnr(image, codec.decode(enc))[0])
    assert r["bpp"][1] == pytest.approx(np.mean([v["bpp"][1] for v in result["per_image"].values()]))
    path = write_result(result, tmp_path / "jpeg.json", command="rnncomp baselines ...")
    assert json.loads(path.read_text())["command"] == "rnncomp baselines ..."


def test_target_bpp_mode(samples_dir):
    images = load_images(samples_dir / "thumbs32", limit=3)
    result = evaluate_codec(get_codec("webp"), images, target_bpps=[2.5], per_image=False, progress=False)
    assert result["results"]["target_bpp"] == [2.5]
    assert "per_image" not in result
    assert result["results"]["bpp"][0] <= 2.5


def test_refuses_to_mix_ms_ssim_variants(samples_dir):
    images = load_images(samples_dir / "thumbs32", limit=1) + load_images(samples_dir / "kodak", limit=1)
    with pytest.raises(RnncompError, match="MS-SSIM variants|evaluate small and large"):
        evaluate_codec(get_codec("jpeg"), images, qualities=[50], progress=False)
