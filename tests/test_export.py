"""rnncomp.tools.export: standalone artefacts decode real .rnc files like rnncomp does (to 1 level of 255)."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from rnncomp import codec
from rnncomp.cli import main
from rnncomp.errors import RnncompError
from rnncomp.tools.export import (EXAMPLE, GAINS, MANIFEST, bicubic_matrix, export, file_codes, load_client,
                                   parse_size, save_codes)

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnx", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="tf2onnx/onnxruntime not installed (pip install -e '.[export]')")
MODELS = ("rnncomp-default", "e2e-default")
CASES = [(m, f) for m in MODELS for f in ("tflite", "savedmodel")] + \
        [pytest.param(m, "onnx", marks=needs_onnx) for m in MODELS]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``exported(model, fmt)`` -> the folder of a 32x32 export with both networks (made once per module)."""
    made = {}

    def get(model, fmt):
        if (model, fmt) not in made:
            out = tmp_path_factory.mktemp("export") / f"{model}-{fmt}"
            export(model, out, fmt, size=(32, 32), check=False)
            made[model, fmt] = out
        return made[model, fmt]

    return get


@pytest.fixture(scope="module")
def rnc_files(tmp_path_factory, thumbs):
    """A real .rnc file per model of the first bundled thumbnail, and rnncomp's decoding of it."""
    root = tmp_path_factory.mktemp("rnc")
    files = {}
    for model in MODELS:
        path = root / f"{model}.rnc"
        path.write_bytes(codec.compress(thumbs[0], model))
        files[model] = (path, codec.decompress(path.read_bytes()))
    return files


def _max_diff(a, b) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


@pytest.mark.parametrize("model,fmt", CASES)
def test_exported_decoder_decodes_the_file_as_rnncomp_does(exported, rnc_files, model, fmt, record_property):
    folder = exported(model, fmt)
    path, ours = rnc_files[model]
    theirs = load_client(folder).decode(file_codes(path), folder)
    assert theirs.dtype == np.uint8 and theirs.shape == ours.shape == (32, 32, 3)
    diff = _max_diff(theirs, ours)
    record_property("max_pixel_difference", diff)
    print(f"{model} {fmt}: largest pixel difference {diff}")
    assert diff <= 1


@pytest.mark.parametrize("fmt", ["tflite", "savedmodel"])
def test_recurrent_export_decodes_progressively(exported, rnc_files, fmt):
    folder = exported("rnncomp-default", fmt)
    path, _ = rnc_files["rnncomp-default"]
    client, codes = load_client(folder), file_codes(path)
    for k in (1, 3):
        ours = codec.decompress(path.read_bytes(), iterations=k)
        assert _max_diff(client.decode(codes, folder, iterations=k), ours) <= 1


@pytest.mark.parametrize("model,fmt", CASES)
def test_exported_encoder_gives_rnncomps_codes(exported, rnc_files, thumbs, model, fmt):
    folder = exported(model, fmt)
    client, ref = load_client(folder), file_codes(rnc_files[model][0])
    if model == "e2e-default":
        mine = client.encode(thumbs[0], folder, levels=int(ref["levels"]))
        assert np.mean(mine["values"] == ref["values"]) >= 0.99
    else:
        mine = client.encode(thumbs[0], folder, iterations=ref["bits"].shape[0])
        # a bit whose pre-sign value is within rounding of 0 may flip; both are valid codes
        assert mine["bits"].shape == ref["bits"].shape and np.mean(mine["bits"] == ref["bits"]) >= 0.99
    assert client.decode(mine, folder).shape == (32, 32, 3)


def test_manifest_describes_the_artefacts(exported, rnc_files):
    folder = exported("rnncomp-default", "tflite")
    man = json.loads((folder / MANIFEST).read_text())
    assert man["format"] == "tflite" and man["kind"] == "recurrent" and man["image_size"] == [32, 32]
    assert man["model"]["name"] == "rnncomp-default"
    assert man["model"]["fingerprint"] == file_codes(rnc_files["rnncomp-default"][0])["fingerprint"]
    dec = man["artefacts"]["decoder"]
    assert (folder / dec["file"]).stat().st_size == dec["bytes"] > 1_000_000  # the weights are in the file
    names = [p["name"] for p in dec["inputs"]]
    from rnncomp.zoo import load_model

    m = load_model("rnncomp-default")  # the code grid of one 32x32 image per iteration
    grid = [1, 32 // int(m.stride), 32 // int(m.stride), int(m.config.bits)]
    assert names[:2] == ["bits", "x_hat_in"] and dec["inputs"][0]["shape"] == grid
    assert set(dec["feedback"]) == set(names) - {"bits"}
    assert set(dec["feedback"].values()) <= {p["name"] for p in dec["outputs"]}
    assert {"decode", "encode"} <= set(man["loop"]) and (folder / EXAMPLE).is_file()
    client, codes = load_client(folder), file_codes(rnc_files["rnncomp-default"][0])
    with pytest.raises(ValueError, match="this export decodes 32x32 images"):
        client.decode({**codes, "shape": (48, 48)}, folder)
    with pytest.raises(ValueError, match="of model 00000000"):
        client.decode({**codes, "fingerprint": "00000000"}, folder)


def test_export_records_its_check_at_other_sizes(tmp_path):
    """An odd size (padding and cropping in the graphs) with the check export runs by default."""
    man = export("e2e-default", tmp_path / "e2e", "tflite", size="30x45")
    assert man["image_size"] == [30, 45] and man["padded_size"] == [32, 48]
    assert man["check"]["max_pixel_difference"] <= 1 and man["check"]["encoder_agreement"] >= 0.99
    assert json.loads((tmp_path / "e2e" / MANIFEST).read_text())["check"] == man["check"]


def test_another_recurrent_layout_exports_from_a_checkpoint(tmp_path):
    """GRU states and residual scaling (the gain estimator in both networks), from an unshipped checkpoint."""
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model

    model = get_model("toderici2017-gru", framework="residual_scaling", width_multiplier=0.0625, bits=8,
                      iterations=2, seed=0)
    ckpt = save_checkpoint(model, tmp_path / "m")
    man = export(ckpt, tmp_path / "out", "tflite", size=(16, 24))
    assert man["model"]["name"] is None and man["model"]["unit"] == "gru" and man["model"]["bits"] == 8
    assert model.gain_estimator is not None
    assert man["check"]["max_pixel_difference"] <= 1 and man["check"]["encoder_agreement"] >= 0.99


def test_bicubic_matrices_equal_kerass_resize():
    from keras import ops

    x = np.random.default_rng(0).random((1, 5, 7, 3)).astype(np.float32)
    ref = np.asarray(ops.image.resize(x, (20, 28), interpolation="bicubic"))
    a_h, a_w = bicubic_matrix(5, 20), bicubic_matrix(7, 28)
    mine = np.einsum("ih,bhwc,jw->bijc", a_h, x, a_w)
    assert np.abs(mine - ref).max() < 1e-5


def _run_client_alone(folder, codes, out, fmt, cwd):
    """Runs decode_example.py CODES -o OUT in a fresh interpreter in which importing rnncomp (and
    TensorFlow and Keras, where the runtime does not need them: ONNX Runtime, LiteRT) fails."""
    blocked = ["rnncomp"]
    if fmt == "onnx" or importlib.util.find_spec("ai_edge_litert"):
        blocked += ["tensorflow", "keras"]
    script = folder / EXAMPLE
    probe = (
        "import runpy, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ImportError(name + ' is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.argv = [{str(script)!r}, {str(codes)!r}, '-o', {str(out)!r}]\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
        f"assert not [m for m in sys.modules if m.split('.')[0] in {blocked!r}]\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return np.load(out)


@pytest.mark.parametrize("fmt", ["tflite", pytest.param("onnx", marks=needs_onnx)])
def test_the_client_runs_without_rnncomp(exported, rnc_files, tmp_path, fmt):
    folder = exported("rnncomp-default", fmt)
    path, ours = rnc_files["rnncomp-default"]
    codes = save_codes(path, tmp_path / "codes.npz")
    assert _max_diff(_run_client_alone(folder, codes, tmp_path / "image.npy", fmt, tmp_path), ours) <= 1


def test_cli_export_as_a_user_calls_it(capsys, tmp_path):
    out = tmp_path / "thumb-decoder"
    argv = ["export", "--model", "e2e-default", "--format", "tflite", "--size", "32x32", "--out", str(out),
            "--decoder-only"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "decoder.tflite" in printed and "largest pixel difference vs rnncomp decompress" in printed
    assert sorted(p.name for p in out.iterdir()) == [EXAMPLE, "decoder.tflite", MANIFEST]
    assert main(argv) == 2  # no silent overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(argv + ["--force", "--no-check"]) == 0


def test_clear_errors_for_unknown_format_model_and_size(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["export", "--format", "coreml", "--out", str(tmp_path / "x")])
    assert e.value.code == 2 and "invalid choice: 'coreml'" in capsys.readouterr().err
    assert main(["export", "--model", "no-such-model", "--out", str(tmp_path / "x")]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert main(["export", "--model", "srgan-x4", "--out", str(tmp_path / "x")]) == 2
    assert "cannot export a SRGANGenerator" in capsys.readouterr().err
    with pytest.raises(RnncompError, match="unknown export format 'coreml'"):
        export(out=tmp_path / "y", fmt="coreml")
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(RnncompError, match="not an export folder"):
        export("e2e-default", tmp_path, "tflite", force=True)  # never deletes a folder it did not write
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert parse_size("24x40") == (24, 40) and parse_size("16") == (16, 16)
    with pytest.raises(RnncompError, match="HxW"):
        parse_size("big")


def test_tiled_files_are_refused_with_a_reason():
    """Images over 1024 px are coded as windows; the exported networks decode whole images."""
    image = np.full((16, 1040, 3), 128, np.uint8)
    with pytest.raises(RnncompError, match="a tiled file .*use rnncomp decompress"):
        file_codes(codec.compress(image, "rnncomp-default", iterations=1))


def test_onnx_without_tf2onnx_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # makes `import tf2onnx` fail
    with pytest.raises(RnncompError, match=r"needs tf2onnx .*pip install -e '\.\[export\]'"):
        export("e2e-default", tmp_path / "x", "onnx")


# --- the hyperprior codec (Balle et al. 2018 with gain units) -----------------------------------------


@pytest.fixture(scope="module")
def hyperprior():
    """A tiny hyperprior model whose (untrained) latents and images span many levels.

    At their initial values the gains leave every latent of an untrained g_a at 0 (|y| < 0.12)
    and g_s decodes every pixel to 124..130, which would check little; so gain k is about 60
    and 400, varying over the channels (a wrong channel order of the gain input would show),
    the inverse gains undo them, and g_s's last kernel is 30 times larger (pixels 36..217).
    """
    from rnncomp.registry import get_model

    m = get_model("balle2018-hyperprior", filters=8, latent_channels=12, lmbdas=[0.002, 0.02], rate_substeps=2,
                  default_rate=1, seed=0)
    log_gain = np.log([[60.0], [400.0]]) + np.linspace(-0.5, 0.5, 12)[None]
    m.log_gain.assign(log_gain.astype(np.float32))
    m.log_inverse_gain.assign(-log_gain.astype(np.float32))
    last = m.g_s.layers[-1]
    last.kernel.assign(np.asarray(last.kernel) * np.float32(30.0))
    return m


@pytest.fixture(scope="module")
def hyperprior_export(hyperprior, tmp_path_factory):
    """``hyperprior_export(fmt)`` -> the folder of a 24x40 export (padded to 32x48) with its check."""
    made = {}

    def get(fmt):
        if fmt not in made:
            made[fmt] = tmp_path_factory.mktemp("export") / f"hyperprior-{fmt}"
            export(hyperprior, made[fmt], fmt, size=(24, 40))
        return made[fmt]

    return get


@pytest.fixture(scope="module")
def photo():
    """A 24x40 corner of a bundled Kodak sample."""
    from rnncomp.images import load_image, sample_images_dir

    return np.asarray(load_image(sorted((sample_images_dir() / "kodak").glob("*.png"))[0]))[:24, :40]


@pytest.mark.parametrize("fmt", ["tflite", pytest.param("onnx", marks=needs_onnx)])
def test_hyperprior_export_serves_every_rate_point(hyperprior_export, hyperprior, photo, tmp_path, fmt):
    """One export (the gain vector an input) decodes and encodes real files at the lowest, an
    interpolated and the highest rate point like rnncomp, from the codes save_codes writes."""
    folder = hyperprior_export(fmt)
    man = json.loads((folder / MANIFEST).read_text())
    assert man["kind"] == "hyperprior" and man["image_size"] == [24, 40] and man["padded_size"] == [32, 48]
    assert [p["name"] for p in man["artefacts"]["decoder"]["inputs"]] == ["y_hat", "inverse_gain"]
    assert man["artefacts"]["decoder"]["inputs"][0]["shape"] == [1, 2, 3, 12]
    assert [p["name"] for p in man["artefacts"]["encoder"]["inputs"]] == ["image", "gain"]
    assert man["check"]["max_pixel_difference"] <= 1 and man["check"]["encoder_agreement"] >= 0.99
    with np.load(folder / GAINS) as g:
        for r in range(hyperprior.config.max_rate + 1):  # exactly the vectors rnncomp multiplies by
            assert np.array_equal(g["gain"][r], hyperprior.gains(r)[0])
            assert np.array_equal(g["inverse_gain"][r], hyperprior.gains(r)[1])
    client, decoded = load_client(folder), []
    for rate in (0, 1, 2):
        data = codec.compress(photo, hyperprior, quality=rate)
        ours = codec.decompress(data, hyperprior)
        with np.load(save_codes(data, tmp_path / f"r{rate}.npz", hyperprior)) as z:
            codes = dict(z)
        assert int(codes["rate"]) == rate and codes["y"].dtype == np.int32 and codes["y"].shape == (2, 3, 12)
        assert np.mean(codes["y"] != 0) > 0.5 and np.abs(codes["y"]).max() >= 5  # something to check
        theirs = client.decode(codes, folder)
        assert theirs.shape == ours.shape == (24, 40, 3) and _max_diff(theirs, ours) <= 1 and ours.std() > 10
        mine = client.encode(photo, folder, rate=rate)
        assert mine["y"].shape == codes["y"].shape and np.mean(mine["y"] == codes["y"]) >= 0.99
        decoded.append(theirs)
    assert _max_diff(decoded[0], decoded[2]) > 1  # the gain input matters


def test_hyperprior_client_runs_without_rnncomp(hyperprior_export, hyperprior, photo, tmp_path):
    """A real file -> save_codes -> decode_example.py with numpy and LiteRT alone."""
    folder = hyperprior_export("tflite")
    data = codec.compress(photo, hyperprior, quality=1)
    codes = save_codes(data, tmp_path / "codes.npz", hyperprior)
    theirs = _run_client_alone(folder, codes, tmp_path / "image.npy", "tflite", tmp_path)
    assert _max_diff(theirs, codec.decompress(data, hyperprior)) <= 1


def test_shipped_hyperprior_exports_and_checks_itself(tmp_path):
    """hyperprior-default at 32x32 (a bundled thumbnail): the check export runs by default."""
    man = export("hyperprior-default", tmp_path / "hp", "tflite", size="32x32")
    assert man["model"]["name"] == "hyperprior-default" and man["model"]["rate_points"] == 21
    assert man["check"]["max_pixel_difference"] <= 1 and man["check"]["encoder_agreement"] >= 0.99
