"""Spatially adaptive bit rates (Johnston et al. 2018): format version 3, the encoder, rate control, CLI.

Format tests use random codes (no model); the rest a tiny untrained recurrent model.
"""

import zlib
from dataclasses import replace

import numpy as np
import pytest

from rnncomp import bitstream, codec, sabr
from rnncomp.bitstream import BitstreamError, Header
from rnncomp.entropy.sabr import SABR_CODERS, encode_map
from rnncomp.errors import RnncompError

from conftest import make_prior

K = 4
BITS = 8


# --- the format ---------------------------------------------------------------------------------


def random_file(coder="context", k=K, height=70, width=100, tile=2, seed=0):
    rng = np.random.default_rng(seed)
    h, w = -(-height // 16), -(-width // 16)
    grid = (-(-h // tile), -(-w // tile))
    m = rng.integers(1, k + 1, grid)
    m.flat[0] = k
    header = Header(height=height, width=width, stride=16, bits=BITS, iterations=k, coder=coder, sabr_tile=tile,
                    iteration_map=m)
    bits = (rng.random((k, h, w, BITS)) < 0.3).astype(np.uint8)
    prior = make_prior(BITS) if coder == "prior" else None
    return header, bits, bitstream.write(bits, header, prior=prior), prior


@pytest.mark.parametrize("coder", SABR_CODERS)
def test_adaptive_files_round_trip_and_truncate_to_min_map(coder):
    header, bits, data, prior = random_file(coder)
    assert data[2] == bitstream.VERSION_SABR
    f = bitstream.parse(data)
    assert f.header == header and f.header.adaptive
    got = np.stack(list(bitstream.iter_codes(data, prior=prior)))
    for t in range(1, K + 1):
        active = header.active(t)
        assert np.array_equal(got[t - 1][active], bits[t - 1][active]) and not got[t - 1][~active].any()
        # chunk t holds only the active blocks' bits: never more than their raw packing
        assert len(f.payloads[t - 1]) <= header.chunk_raw_size(t) < header.raw_chunk_size or active.all()
    for j in range(1, K + 1):
        cut = bitstream.truncate(data, j)
        assert cut == bitstream.write(bits[:j], header.cut(j), prior=prior)  # the file coding min(map, j) writes
        assert np.array_equal(bitstream.parse(cut).header.map_array, np.minimum(header.map_array, j))
        assert np.array_equal(np.stack(list(bitstream.iter_codes(cut, prior=prior))), got[:j])
    assert bitstream.restore_header(bitstream.strip_header(data), header) == data
    info = bitstream.describe(data)
    assert info["adaptive"] and info["sabr_tile"] == 2 and info["iteration_map"] == [list(r) for r in header.iteration_map]


def test_uniform_headers_are_unchanged():
    header = Header(height=32, width=32, stride=16, bits=32, iterations=8, coder="context")
    assert not header.adaptive and header.cut(3) == Header(height=32, width=32, stride=16, bits=32, iterations=3)
    assert bitstream._pack_header(header)[2] == bitstream.VERSION


@pytest.mark.parametrize("fields,message", [
    (dict(iteration_map=np.full((3, 4), 5)), "must hold 1..4"),
    (dict(iteration_map=np.full((3, 4), 3)), "must hold 1..4"),
    (dict(iteration_map=np.full((2, 4), 4)), "shape"),
    (dict(sabr_tile=0, iteration_map=np.full((3, 4), 4)), "SABR tile"),
    (dict(coder="learned"), "not available"),
    (dict(tile=64, overlap=32), "cannot be tiled"),
])
def test_headers_refuse_bad_maps(fields, message):
    base = dict(height=70, width=100, stride=16, bits=BITS, iterations=K, coder="context", sabr_tile=2,
                iteration_map=np.full((3, 4), K))
    with pytest.raises(BitstreamError, match=message):
        Header(**{**base, **fields})


def _file(header_bytes: bytes, payloads, coder_raw=False) -> bytes:
    """A file of a hand-made header and ``payloads``, with valid checks (a hostile writer's file)."""
    out, crc = [header_bytes], zlib.crc32(header_bytes)
    for t, p in enumerate(payloads):
        last = t + 1 == len(payloads)
        part = (b"" if last or coder_raw else bitstream._varint(len(p))) + p
        crc = zlib.crc32(part, crc)
        check = bitstream._check_value(crc, 3 if last else 1)
        crc = zlib.crc32(check, crc)
        out += [part, check]
    return b"".join(out)


def _hostile(header, payloads, tile=None, map_coder=None, map_payload=None, k=None, flags=None):
    """``header``'s file with its SABR fields (or k, or flags) replaced, the checks valid."""
    uniform = bitstream._pack_header(replace(header, sabr_tile=0, iteration_map=(),
                                                       iterations=k or header.iterations))
    coder, payload = encode_map(header.map_array, header.iterations)
    coder = coder if map_coder is None else map_coder
    payload = payload if map_payload is None else map_payload
    head = bytearray(uniform)
    head[2] = 3
    if flags is not None:
        head[3] = flags
    head += bitstream._varint(header.sabr_tile if tile is None else tile) + bytes([coder])
    head += bitstream._varint(len(payload)) + payload
    return _file(bytes(head), payloads)


def test_hostile_maps_end_in_one_line_errors():
    header, bits, data, _ = random_file("context", k=3)
    payloads = bitstream.parse(data).payloads
    assert _hostile(header, payloads) == data  # the helper rebuilds the real file
    values = np.full(header.map_array.shape, 2, np.uint8)  # 1-based 3; levels 4 allow a 4
    more = values.copy()
    more.flat[0] = 3
    from rnncomp.entropy.compact import encode_values

    cases = [
        (dict(map_payload=encode_values(more[..., None], 4, "raw"), map_coder=0), "asks for 4 iterations"),
        (dict(map_payload=encode_values(values[..., None] - 1, 4, "raw"), map_coder=0), "last iteration"),
        (dict(map_payload=encode_values(np.full((4, 4, 1), 2, np.uint8), 4, "raw"), map_coder=0),
         "corrupt iteration map"),  # a map of the wrong size
        (dict(map_payload=encode_values(np.full((2, 2, 1), 2, np.uint8), 4, "huffman"), map_coder=1),
         "corrupt iteration map"),
        (dict(map_coder=7), "unknown iteration-map coder"),
        (dict(tile=0), "SABR tile"),
        (dict(tile=65), "SABR tile"),
        (dict(flags=0x22), "bad flags for a version-3"),
        (dict(flags=0x42), "bad flags for a version-3"),
        (dict(k=4), "asks for 3 iterations|last iteration|must hold"),  # a map of 3 in a 4-iteration file
    ]
    for kwargs, message in cases:
        with pytest.raises(BitstreamError, match=message):
            bitstream.read_codes(_hostile(header, payloads, **kwargs))


def test_cut_and_damaged_adaptive_files_decode_lower_or_fail_in_one_line():
    header, bits, data, _ = random_file("context", k=3, height=40, width=50, seed=1)
    for n in range(len(data)):
        cut = data[:n]
        with pytest.raises(BitstreamError):
            bitstream.read_codes(cut)
        try:
            _, got = bitstream.read_codes(cut, partial=True)
        except BitstreamError as e:
            assert "\n" not in str(e)
            continue
        assert 1 <= len(got) < 3 and np.array_equal(got, np.stack(list(bitstream.iter_codes(data)))[:len(got)])
    rng = np.random.default_rng(0)
    for i in rng.choice(len(data) * 8, 64, replace=False):
        bad = bytearray(data)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(BitstreamError):
            bitstream.read_codes(bytes(bad))


# --- the encoder ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    from rnncomp.registry import get_model

    m = get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=K, bits=BITS, seed=0)
    m.context_prior = make_prior(BITS)
    return m


def image(height=48, width=64, seed=0):
    """Half flat (easy), half noisy (hard): tiles that stop early and tiles that do not."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.clip(np.stack([x * 4, y * 5, (x + y) % 256], -1) + rng.integers(-40, 40, (height, width, 3)), 0, 255)
    img[:, : width // 2] = 128
    return img.astype(np.uint8)


def test_target_psnr_is_reached_on_every_tile_the_iterations_allow(model, tmp_path):
    img = image()
    uniform = [sabr.tile_psnr(img, codec.decompress(codec.compress(img, model, iterations=j), model), 32)
               for j in range(1, K + 1)]
    targets = sorted({5.0, 30.0, 99.0, float(np.median(uniform[0])), float(np.median(uniform[-1]))})
    for target in targets:
        path = tmp_path / "a.rnc"
        path.write_bytes(codec.compress(img, model, target_psnr=target, iterations=K))
        data = path.read_bytes()
        f = bitstream.parse(data)
        assert f.header.adaptive and f.header.sabr_tile == sabr.DEFAULT_TILE
        out = codec.decompress(data, model)
        q = sabr.tile_psnr(img, out, 16 * sabr.DEFAULT_TILE)
        m = f.header.map_array
        assert ((q >= target) | (m == K)).all(), (target, q, m)
        steps = list(codec.decompress_progressive(data, model))
        assert len(steps) == f.header.iterations and np.array_equal(steps[-1], out)
        for j in range(1, f.header.iterations):  # every prefix decodes, to the image of its iteration
            assert np.array_equal(codec.decompress(bitstream.truncate(data, j), model), steps[j - 1])
    low = bitstream.parse(codec.compress(img, model, target_psnr=5.0)).header
    assert low.iterations == 1 and (low.map_array == 1).all()
    high = bitstream.parse(codec.compress(img, model, target_psnr=99.0)).header
    assert (high.map_array == K).all()


def test_encode_adaptive_reports_what_the_file_decodes_to(model):
    img = image(37, 53, seed=2)
    codes = sabr.encode_adaptive(model, img, 20.0, K, tile=1)
    fc = codec.file_codec(model)
    header = fc.header(37, 53, codes.bits.shape[0], "context", sabr_tile=1, iteration_map=codes.iteration_map)
    data = bitstream.write(codes.bits, header)
    assert np.array_equal(codec.decompress(data, model), codes.image)
    assert np.allclose(sabr.tile_psnr(img, codes.image, 16), codes.quality)


def test_bpp_never_exceeded(model):
    img = image()
    pixels = img.shape[0] * img.shape[1]
    smallest = 8.0 * len(codec.compress(img, model, target_psnr=sabr.BPP_SEARCH[0])) / pixels
    largest = 8.0 * len(codec.compress(img, model, target_psnr=sabr.BPP_SEARCH[1])) / pixels
    for bpp in (smallest, 0.5 * (smallest + largest), largest + 1.0):
        data = codec.compress(img, model, bpp=bpp, adaptive=True)
        assert bitstream.parse(data).header.adaptive
        assert 8.0 * len(data) / pixels <= bpp
    with pytest.raises(RnncompError, match="below the smallest adaptive file"):
        codec.compress(img, model, bpp=0.9 * smallest, adaptive=True)


def test_api_refuses_what_does_not_apply(model):
    img = image(32, 32)
    for kwargs, message in [
        (dict(target_psnr=30.0, bpp=1.0), "not both"),
        (dict(adaptive=True), "needs a bpp"),
        (dict(sabr_tile=2), "applies to adaptive"),
        (dict(target_psnr=30.0, entropy="learned"), "adaptive files are coded with"),
        (dict(target_psnr=30.0, sabr_tile=65), "1..64"),
    ]:
        with pytest.raises(RnncompError, match=message):
            codec.compress(img, model, **kwargs)
    data = codec.compress(img, model, iterations=2)  # --iterations stays uniform: format version 1
    assert data[2] == bitstream.VERSION and not bitstream.parse(data).header.adaptive


def test_cli_target_psnr_and_adaptive_bpp(model, tmp_path, capsys, monkeypatch):
    import json

    from rnncomp.cli import main
    from rnncomp.images import load_image, save_image
    from rnncomp.models.checkpoint import save_checkpoint

    save_checkpoint(model, tmp_path / "ck")
    img = image()
    save_image(tmp_path / "a.png", img)
    monkeypatch.chdir(tmp_path)
    assert main(["compress", "a.png", "-o", "a.rnc", "--model", "ck", "--target-psnr", "30", "-q"]) == 0
    assert main(["info", "a.rnc", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 3 and info["adaptive"]
    assert main(["decompress", "a.rnc", "-o", "a-dec.png", "--model", "ck", "-q"]) == 0
    decoded = load_image(tmp_path / "a-dec.png")
    m = np.asarray(info["iteration_map"])
    assert ((sabr.tile_psnr(img, decoded, 32) >= 30) | (m == K)).all()
    assert main(["compress", "a.png", "-o", "b.rnc", "--model", "ck", "--bpp", "3", "--adaptive", "-q"]) == 0
    assert 8.0 * (tmp_path / "b.rnc").stat().st_size / img[..., 0].size <= 3
    capsys.readouterr()
    assert main(["compress", "a.png", "-o", "c.rnc", "--model", "ck", "--adaptive", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a bpp" in err[0]
    with pytest.raises(SystemExit):
        main(["compress", "a.png", "-o", "d.rnc", "--target-psnr", "nan"])


def test_evaluate_draws_the_adaptive_curve_beside_the_uniform_one(model, tmp_path, capsys, monkeypatch):
    import json

    from rnncomp.cli import main
    from rnncomp.evaluation.evaluate import evaluate_adaptive
    from rnncomp.images import save_image
    from rnncomp.models.checkpoint import save_checkpoint

    img = image(32, 48, seed=3)
    result = evaluate_adaptive(model, [("a", img)], [5.0, 30.0], iterations=K)
    r = result["results"]
    assert r["target_psnr"] == [5.0, 30.0] and result["name"].endswith("-adaptive")
    for n, t in enumerate(r["target_psnr"]):  # bpp of the real file, PSNR of its decoded image
        data = codec.compress(img, model, iterations=K, target_psnr=t)
        assert r["bpp"][n] == 8.0 * len(data) / img[..., 0].size
    save_checkpoint(model, tmp_path / "ck")
    (tmp_path / "imgs").mkdir()
    save_image(tmp_path / "imgs" / "a.png", img)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--data", "imgs", "--model", "ck", "--iterations", "1,2", "--entropy", "context",
                 "--target-psnr", "5,30", "--out", "r.json", "--quiet"]) == 0
    uniform = json.loads((tmp_path / "r.json").read_text())
    adaptive = json.loads((tmp_path / "r-adaptive.json").read_text())
    assert len(uniform["results"]["bpp"]) == 2 and adaptive["results"]["target_psnr"] == [5.0, 30.0]
    assert "command" in adaptive


# --- SSIM as the per-tile metric ------------------------------------------------------------------


def test_ssim_map_is_tensorflows_inside_its_border_and_tiles_average_it():
    from rnncomp.evaluation.metrics import _ssim_maps, ssim, ssim_map

    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (27, 35, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    s = ssim_map(a, b)
    assert s.shape == (27, 35) and np.isfinite(s).all() and (s <= 1.0).all()
    lum, cs = _ssim_maps(a[None].astype(np.float64), b[None].astype(np.float64), 255.0, 11, 1.5)
    assert np.allclose(s[5:-5, 5:-5], (lum * cs)[0].mean(-1), atol=1e-12)  # tf.image.ssim's map, RGB mean
    assert np.isclose(s[5:-5, 5:-5].mean(), ssim(a, b)[0])
    q = sabr.tile_ssim(a, b, 16)  # tiles cut at the image edge: the mean over their pixels only
    assert q.shape == (2, 3) and np.isclose(q[1, 2], s[16:, 32:].mean()) and np.isclose(q[0, 0], s[:16, :16].mean())
    assert (sabr.tile_ssim(a, a, 8) == 1.0).all() and np.array_equal(sabr.tile_quality(a, b, 16, "psnr"),
                                                                    sabr.tile_psnr(a, b, 16))
    assert ssim_map(a[:3, :2], b[:3, :2]).shape == (3, 2)  # smaller than the window: mirrored, defined
    with pytest.raises(RnncompError, match="metric"):
        sabr.tile_quality(a, b, 16, "lpips")


def test_target_ssim_is_reached_on_every_tile_the_iterations_allow(model):
    img = image()
    uniform = [sabr.tile_ssim(img, codec.decompress(codec.compress(img, model, iterations=j), model), 32)
               for j in (1, K)]
    targets = sorted({-1.0, 1.0, float(np.median(uniform[0])), float(np.median(uniform[-1]))})
    for target in targets:
        data = codec.compress(img, model, target_ssim=target, iterations=K)
        f = bitstream.parse(data)
        assert f.header.adaptive and f.header.sabr_tile == sabr.DEFAULT_TILE
        out = codec.decompress(data, model)
        q = sabr.tile_ssim(img, out, 16 * sabr.DEFAULT_TILE)
        m = f.header.map_array
        assert ((q >= target) | (m == K)).all(), (target, q, m)
        if target == -1.0:  # SSIM is never below -1: one iteration everywhere
            assert f.header.iterations == 1 and (m == 1).all()
        if target == 1.0:
            assert (m == K).all()


def test_encode_adaptive_ssim_reports_what_the_file_decodes_to(model):
    img = image(37, 53, seed=2)
    codes = sabr.encode_adaptive(model, img, 0.5, K, tile=1, metric="ssim")
    assert codes.metric == "ssim"
    fc = codec.file_codec(model)
    header = fc.header(37, 53, codes.bits.shape[0], "context", sabr_tile=1, iteration_map=codes.iteration_map)
    data = bitstream.write(codes.bits, header)
    assert np.array_equal(codec.decompress(data, model), codes.image)
    assert np.allclose(sabr.tile_ssim(img, codes.image, 16), codes.quality)
    for target, message in [(1.5, "within -1..1"), (float("nan"), "must be a number")]:
        with pytest.raises(RnncompError, match=message):
            sabr.encode_adaptive(model, img, target, K, metric="ssim")
    with pytest.raises(RnncompError, match="metric"):
        sabr.encode_adaptive(model, img, 0.5, K, metric="lpips")


def test_bpp_never_exceeded_with_ssim(model):
    img = image()
    pixels = img.shape[0] * img.shape[1]
    lo, hi, _ = sabr.BPP_SEARCHES["ssim"]
    smallest = 8.0 * len(codec.compress(img, model, target_ssim=lo)) / pixels
    largest = 8.0 * len(codec.compress(img, model, target_ssim=hi)) / pixels
    for bpp in (smallest, 0.5 * (smallest + largest)):
        data = codec.compress(img, model, bpp=bpp, adaptive=True, sabr_metric="ssim")
        assert bitstream.parse(data).header.adaptive
        assert 8.0 * len(data) / pixels <= bpp
    with pytest.raises(RnncompError, match=r"below the smallest adaptive file.*SSIM -1 target"):
        codec.compress(img, model, bpp=0.9 * smallest, adaptive=True, sabr_metric="ssim")


def test_api_refuses_mixed_or_unknown_metrics(model):
    img = image(32, 32)
    for kwargs, message in [
        (dict(target_psnr=30.0, target_ssim=0.9), "not both"),
        (dict(target_ssim=0.9, bpp=1.0), "target SSIM or a bpp, not both"),
        (dict(target_psnr=30.0, sabr_metric="ssim"), "does not match"),
        (dict(sabr_metric="ssim"), "applies to adaptive"),
        (dict(bpp=1.0, adaptive=True, sabr_metric="lpips"), "must be one of"),
        (dict(target_ssim=1.5), "within -1..1"),
    ]:
        with pytest.raises(RnncompError, match=message):
            codec.compress(img, model, **kwargs)


def test_cli_target_ssim_and_adaptive_bpp_by_ssim(model, tmp_path, capsys, monkeypatch):
    import json

    from rnncomp.cli import main
    from rnncomp.images import load_image, save_image
    from rnncomp.models.checkpoint import save_checkpoint

    save_checkpoint(model, tmp_path / "ck")
    img = image()
    save_image(tmp_path / "a.png", img)
    monkeypatch.chdir(tmp_path)
    assert main(["compress", "a.png", "-o", "a.rnc", "--model", "ck", "--target-ssim", "0.5", "-q"]) == 0
    assert main(["info", "a.rnc", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 3 and info["adaptive"]
    assert main(["decompress", "a.rnc", "-o", "a-dec.png", "--model", "ck", "-q"]) == 0
    m = np.asarray(info["iteration_map"])
    assert ((sabr.tile_ssim(img, load_image(tmp_path / "a-dec.png"), 32) >= 0.5) | (m == K)).all()
    assert main(["compress", "a.png", "-o", "b.rnc", "--model", "ck", "--bpp", "3", "--adaptive",
                 "--sabr-metric", "ssim", "-q"]) == 0
    assert 8.0 * (tmp_path / "b.rnc").stat().st_size / img[..., 0].size <= 3
    capsys.readouterr()
    assert main(["compress", "a.png", "-o", "c.rnc", "--model", "ck", "--target-psnr", "30", "--sabr-metric", "ssim",
                 "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not match" in err[0]
    for bad in (["--target-ssim", "1.5"], ["--target-ssim", "nan"], ["--target-ssim", "0.9", "--target-psnr", "30"],
                ["--bpp", "1", "--adaptive", "--sabr-metric", "lpips"]):
        with pytest.raises(SystemExit):
            main(["compress", "a.png", "-o", "d.rnc", *bad])


def test_evaluate_draws_the_ssim_adaptive_curve(model, tmp_path, capsys, monkeypatch):
    import json

    from rnncomp.cli import main
    from rnncomp.evaluation.evaluate import evaluate_adaptive
    from rnncomp.images import save_image
    from rnncomp.models.checkpoint import save_checkpoint

    img = image(32, 48, seed=3)
    result = evaluate_adaptive(model, [("a", img)], [-1.0, 0.9], iterations=K, metric="ssim", progress=False)
    r = result["results"]
    assert r["target_ssim"] == [-1.0, 0.9] and "target_psnr" not in r
    assert result["name"].endswith("-adaptive-ssim") and result["sabr_metric"] == "ssim"
    data = codec.compress(img, model, iterations=K, target_ssim=0.9)
    assert r["bpp"][1] == 8.0 * len(data) / img[..., 0].size
    save_checkpoint(model, tmp_path / "ck")
    (tmp_path / "imgs").mkdir()
    save_image(tmp_path / "imgs" / "a.png", img)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--data", "imgs", "--model", "ck", "--iterations", "1", "--entropy", "context",
                 "--target-ssim", "0.9", "--out", "r.json", "--quiet"]) == 0
    adaptive = json.loads((tmp_path / "r-adaptive-ssim.json").read_text())
    assert adaptive["results"]["target_ssim"] == [0.9] and not (tmp_path / "r-adaptive.json").exists()
    capsys.readouterr()
    assert main(["evaluate", "--data", "imgs", "--model", "ck", "--target-ssim", "2", "--out", "s.json", "--quiet"]) != 0
    assert "within -1..1" in capsys.readouterr().err and not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("metric", sorted(sabr.GAINS))
def test_gain_rules_stop_tiles_whose_last_iteration_bought_less_than_the_threshold(model, metric):
    img = image()
    everything = sabr.encode_adaptive(model, img, -np.inf, K, metric=metric)
    assert (everything.iteration_map == K).all()  # no gain is below -inf: the uniform file
    nothing = sabr.encode_adaptive(model, img, np.inf, K, metric=metric)
    assert (nothing.iteration_map == 1).all() and nothing.bits.shape[0] == 1
    # The rule, re-measured on the uniform reconstructions: a tile stops after the first iteration whose
    # gain in the base metric's loss is below the threshold (the map is what the encoder decided).
    tile_px = 16 * sabr.DEFAULT_TILE
    losses = [sabr.tile_loss(img, np.full_like(img, 128), tile_px, sabr.GAINS[metric])]
    for j in range(1, K + 1):
        losses.append(sabr.tile_loss(img, codec.decompress(codec.compress(img, model, iterations=j), model),
                                     tile_px, sabr.GAINS[metric]))
    threshold = float(np.median(losses[1] - losses[2]))
    codes = sabr.encode_adaptive(model, img, threshold, K, metric=metric)
    first = codes.iteration_map == 1
    assert np.array_equal(first, (losses[0] - losses[1]) < threshold)
    data = codec.compress(img, model, bpp=8.0 * len(codec.compress(img, model, iterations=2)) / img[..., 0].size,
                          adaptive=True, sabr_metric=metric)
    assert bitstream.parse(data).header.adaptive and 8.0 * len(data) <= 8.0 * len(codec.compress(img, model, iterations=2))
