"""The 'learned' coder: integer context model (exact, thread-independent), its files, hostile payloads."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnncomp import bitstream
from rnncomp.entropy import learned as lm
from rnncomp.entropy import new_coder
from rnncomp.errors import BitstreamError, RnncompError

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "learned"
SHIPPED = HERE.parent / "rnncomp" / "weights" / "rnncomp-default" / lm.FILENAME


def random_table(c=8, h1=8, h2=4, seed=0, scale=300) -> dict:
    """A well-formed random context model (confident enough that sampled codes compress)."""
    from conftest import make_context_model

    return make_context_model(c, seed, h1, h2, scale)


def sample_codes(table, k, h, w, seed=0) -> np.ndarray:
    """Codes drawn from the model itself: the decoder run on random bytes."""
    c = table["w1"].shape[0]
    rng = np.random.default_rng(seed)
    coder = lm.LearnedCoder(h, w, c, table)
    return np.stack([coder.decode(rng.bytes(max(8, h * w * c // 8))) for _ in range(k)])


def history(codes, t):
    return codes[t], codes[t - 1] if t else None, codes[t - 2] if t > 1 else None


@pytest.mark.parametrize("shape,seed", [((1, 1, 8), 0), ((3, 5, 8), 1), ((4, 4, 3), 2), ((2, 7, 1), 3)])
def test_integer_path_equals_the_reference_on_random_inputs(shape, seed):
    table = random_table(c=shape[2], seed=seed)
    codes = (np.random.default_rng(seed).random((10,) + shape) < 0.45).astype(np.uint8)
    for t in (0, 1, 2, 9):  # 9: past the last iteration row of the bias
        fast = lm.logits(table, *history(codes, t), iteration=t)
        ref = lm.reference_logits(table, *history(codes, t), iteration=t)
        np.testing.assert_array_equal(fast, ref)
        assert fast.dtype == np.int64 and np.abs(fast).max() <= lm.QMAX


def test_extreme_weights_stay_exact():
    """Every weight and bias at its bound: the largest sums the format allows are still exact."""
    table = random_table(c=8, h1=16, h2=8)
    for k in ("w1", "w2", "w3"):
        table[k] = np.where(table[k] >= 0, lm.WMAX, -lm.WMAX)
    for k in ("b1", "b2", "b3"):
        table[k] = np.where(table[k] >= 0, lm.BMAX, -lm.BMAX)
    codes = (np.random.default_rng(5).random((3, 3, 4, 8)) < 0.5).astype(np.uint8)
    np.testing.assert_array_equal(lm.logits(table, *history(codes, 2), iteration=2),
                                  lm.reference_logits(table, *history(codes, 2), iteration=2))


def test_decoder_steps_give_the_encoders_probabilities_and_round_trip():
    table = random_table()
    codes = sample_codes(table, 4, 5, 6)
    enc, dec = lm.LearnedCoder(5, 6, 8, table), lm.LearnedCoder(5, 6, 8, table)
    coded = 0
    for t in range(4):
        payload = enc.encode(codes[t])
        if payload is None:
            dec.observe(codes[t])
            continue
        coded += 1
        assert len(payload) < enc.raw_size
        np.testing.assert_array_equal(dec.decode(payload), codes[t])
    assert coded >= 3


def test_wavefronts_cover_every_block_once_after_its_neighbours():
    for h, w in ((1, 1), (1, 5), (4, 1), (4, 4), (5, 7)):
        seen = np.full((h, w), -1)
        for d, (ys, xs) in enumerate(lm.schedule(h, w)):
            assert (seen[ys, xs] == -1).all() and (np.diff(ys) > 0).all()
            seen[ys, xs] = d
        assert (seen >= 0).all()
        for y in range(h):
            for x in range(w):
                for dy, dx in lm.NEIGHBOURS:
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        assert seen[y + dy, x + dx] < seen[y, x]


def test_a_logit_depends_only_on_bits_decoded_before_it():
    """Flipping a bit changes no logit of its own wavefront or an earlier one."""
    table = random_table(c=3, seed=4)
    codes = (np.random.default_rng(0).random((2, 4, 5, 3)) < 0.5).astype(np.uint8)
    wave = 2 * np.arange(4)[:, None] + np.arange(5)[None, :]
    base = lm.logits(table, codes[1], codes[0], None, 1)
    for y, x, c in ((0, 0, 0), (1, 1, 2), (2, 1, 1), (3, 4, 0)):
        flipped = codes[1].copy()
        flipped[y, x, c] ^= 1
        other = lm.logits(table, flipped, codes[0], None, 1)
        not_later = wave <= wave[y, x]
        np.testing.assert_array_equal(other[not_later], base[not_later])
        assert (other != base).any() or y == 3 and x == 4


_THREAD_SCRIPT = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {root!r} + '/tests')
from conftest import make_context_model as random_table
from rnncomp.entropy import learned as lm
table = random_table(8, seed=7, h1=32, h2=16)
codes = (np.random.default_rng(3).random((3, 40, 60, 8)) < 0.5).astype(np.uint8)
p = lm.logits(table, codes[2], codes[1], codes[0], iteration=2)
print(hashlib.sha256(p.tobytes()).hexdigest())
"""


def test_probabilities_are_identical_with_1_and_2_threads():
    """The BLAS products under the integer path run with 1 and 2 threads: the same probabilities."""
    root = str(HERE.parent)
    digests = set()
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        p = subprocess.run([sys.executable, "-c", _THREAD_SCRIPT.format(root=root)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        digests.add(p.stdout.strip())
    table = random_table(c=8, h1=32, h2=16, seed=7)
    codes = (np.random.default_rng(3).random((3, 40, 60, 8)) < 0.5).astype(np.uint8)
    p = lm.logits(table, codes[2], codes[1], codes[0], iteration=2)
    digests.add(hashlib.sha256(p.tobytes()).hexdigest())
    assert len(digests) == 1


def test_files_of_the_learned_coder_are_version_2_and_truncate():
    table = random_table()
    codes = sample_codes(table, 3, 4, 4, seed=1)
    header = bitstream.Header(height=32, width=32, stride=8, bits=8, iterations=3, coder="learned")
    data = bitstream.write(codes, header, context_model=table)
    assert data[2] == 2 and data[3] & 0x40 and data[3] & 3 == 0
    assert bitstream.read_header(data).coder == "learned"
    np.testing.assert_array_equal(bitstream.read_codes(data, context_model=table)[1], codes)
    cut = bitstream.truncate(data, 2)
    assert cut[2] == 2
    np.testing.assert_array_equal(bitstream.read_codes(cut, context_model=table)[1], codes[:2])
    assert bitstream.describe(data)["format_version"] == 2
    body = bitstream.strip_header(data)
    assert bitstream.restore_header(body, bitstream.read_header(data)) == data
    other = bitstream.write(codes, bitstream.Header(height=32, width=32, stride=8, bits=8, iterations=3,
                                                    coder="context"))
    assert other[2] == 1 and not other[3] & 0x40  # every other coder's files are unchanged (version 1)
    with pytest.raises(RnncompError, match="needs the model's context model"):
        bitstream.read_codes(data)


@pytest.mark.parametrize("version,flags,message", [
    (2, 0x02, "bad flags"),        # version 2 without the coder's high bit
    (2, 0x40 | 0x10, "bad flags"),  # an end-to-end file cannot be version 2
    (2, 0xC0, "bad flags"),        # bit 7 stays reserved
    (2, 0x41, "unknown entropy coder id 5"),
    (1, 0x40, "reserved"),
    (4, 0x40, "unsupported format version 4"),
])
def test_version_2_headers_are_checked(version, flags, message):
    data = b"RN" + bytes([version, flags]) + b"\0" * 4 + bytes([3, 8, 32, 32, 1]) + b"\0" * 20
    with pytest.raises(BitstreamError, match=message):
        bitstream.parse(data)


def test_hostile_payloads_end_quickly_in_bits_or_one_line_errors():
    table = random_table()
    rng = np.random.default_rng(0)
    h, w = 12, 16
    n = h * w * 8
    with pytest.raises(BitstreamError, match="cannot hold"):
        lm.LearnedCoder(h, w, 8, table).decode(b"\x00")
    for size in (lm.min_payload_bytes(n), 7, 40, n // 8 - 1):
        for payload in (bytes(size), b"\xff" * size, rng.integers(0, 256, size, np.uint8).tobytes()):
            coder = lm.LearnedCoder(h, w, 8, table)
            t0 = time.perf_counter()
            try:
                for _ in range(3):
                    bits = coder.decode(payload)
                    assert bits.shape == (h, w, 8) and bits.dtype == np.uint8
            except BitstreamError as e:
                assert "\n" not in str(e)
            assert time.perf_counter() - t0 < 5
    with pytest.raises(BitstreamError, match="codes of 8 bits"):
        lm.LearnedCoder(h, w, 4, table)


def test_check_table_refuses_bad_tables(tmp_path):
    good = random_table(c=4)
    with pytest.raises(RnncompError, match="shapes"):
        lm.check_table(dict(good, w1=good["w1"][:, :-1]))
    with pytest.raises(RnncompError, match="out of range"):
        lm.check_table(dict(good, w2=good["w2"] * 100))
    with pytest.raises(RnncompError, match="LUT"):
        lm.check_table(dict(good, lut=good["lut"][::-1].copy()))
    with pytest.raises(RnncompError, match="missing"):
        lm.check_table({k: v for k, v in good.items() if k != "b3"})
    path = lm.save_table(tmp_path / "m.npz", good)
    loaded = lm.load_table(path)
    assert lm.table_bytes(loaded) == lm.table_bytes(good)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(RnncompError, match="not a context model"):
        lm.load_table(tmp_path / "junk.npz")


def test_a_model_with_a_context_model_codes_with_it_and_only_it_decodes(tmp_path, thumbs):
    """Shipping a context model beside a model: 'learned' files carry their own fingerprint, the
    model's other files keep theirs, auto never picks it (opt-in: its files are the ones the model
    wrote without a table), and another table is refused."""
    from rnncomp import codec
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model
    from rnncomp.zoo import fingerprint, load_model

    model = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=3, bits=8, seed=0)
    save_checkpoint(model, tmp_path / "ck")
    plain = load_model(tmp_path / "ck")
    context_file = codec.compress(thumbs[0], plain, entropy="context")
    with pytest.raises(RnncompError, match="no context model"):
        codec.compress(thumbs[0], plain, entropy="learned")
    bits = int(plain.config.bits)
    lm.save_table(tmp_path / "ck" / lm.FILENAME, random_table(c=bits, seed=1, scale=20))
    with_table = load_model(tmp_path / "ck")
    assert with_table.context_model is not None
    assert fingerprint(with_table) == fingerprint(plain)  # the weights' files stay decodable
    assert fingerprint(with_table, coder="learned") != fingerprint(plain)
    np.testing.assert_array_equal(codec.decompress(context_file, with_table), codec.decompress(context_file, plain))
    data = codec.compress(thumbs[1], with_table, entropy="learned")
    header = bitstream.read_header(data)
    assert header.coder == "learned" and header.fingerprint == fingerprint(with_table, coder="learned")
    same = codec.decompress(codec.compress(thumbs[1], with_table, entropy="raw"), with_table)
    np.testing.assert_array_equal(codec.decompress(data, with_table), same)  # the coder changes bytes only
    auto = codec.compress(thumbs[1], with_table)
    assert bitstream.read_header(auto).coder != "learned"
    assert auto == codec.compress(thumbs[1], plain)  # byte for byte what auto wrote before the table
    assert len(auto) == min(len(codec.compress(thumbs[1], with_table, entropy=c))
                            for c in ("raw", "huffman", "context"))
    lm.save_table(tmp_path / "ck" / lm.FILENAME, random_table(c=bits, seed=2, scale=20))
    other = load_model(tmp_path / "ck")
    with pytest.raises(bitstream.WrongModelError):
        codec.decompress(data, other)


def test_fit_entropy_trains_and_writes_a_context_model(tmp_path):
    """``rnncomp fit-entropy`` on a tiny model and the bundled thumbnails, a few steps (seconds)."""
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model
    from rnncomp.zoo import load_model

    model = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=2, bits=4, seed=0)
    save_checkpoint(model, tmp_path / "ck")
    sample = HERE.parent / "rnncomp/samples/thumbs32/thumbs32-sample.npz"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "rnncomp.cli", "fit-entropy", "--model", "ck", "--data", str(sample),
           "--iterations", "2", "--steps", "4", "--hidden", "4", "2", "--cache", "codes.npz"]
    p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "held-out bits per code bit" in p.stdout and (tmp_path / "codes.npz").is_file()
    table = lm.load_table(tmp_path / "ck" / lm.FILENAME)
    assert table["w1"].shape == (4, lm.FEATURE_MULTIPLE * 4, 4)
    assert (tmp_path / "ck" / "context-model-training.json").is_file()
    m = load_model(tmp_path / "ck")
    codes = m.encode(np.zeros((1, 32, 32, 3), np.uint8), 2).bits[:, 0]
    header = bitstream.Header(height=32, width=32, stride=int(m.stride), bits=4, iterations=2, coder="learned")
    data = bitstream.write(codes, header, context_model=m.context_model)
    np.testing.assert_array_equal(bitstream.read_codes(data, context_model=m.context_model)[1], codes)


def _shipped_table():
    if not SHIPPED.is_file():
        pytest.skip("rnncomp-default has no context model shipped")
    return lm.load_table(SHIPPED)


def _fixture_codes() -> dict:
    with np.load(FIXTURE / "codes.npz") as d:
        return {k: np.unpackbits(d[k], axis=-1, count=8) for k in d.files}


def test_committed_learned_files_decode_to_the_committed_codes():
    """Files written with the shipped context model on one machine decode on this one, exactly (no TensorFlow)."""
    table = _shipped_table()
    codes = _fixture_codes()
    for name, bits in codes.items():
        data = (FIXTURE / f"{name}.rnc").read_bytes()
        header = bitstream.read_header(data)
        assert header.coder == "learned" and data[2] == 2
        np.testing.assert_array_equal(bitstream.read_codes(data, context_model=table)[1], bits)
        assert bitstream.write(bits, header, context_model=table) == data  # and the encoder writes them again


def test_integer_path_equals_the_reference_on_real_codes():
    table = _shipped_table()
    bits = _fixture_codes()["thumb0"]
    for t in (0, 1, 2, 7):
        np.testing.assert_array_equal(lm.logits(table, *history(bits, t), iteration=t),
                                      lm.reference_logits(table, *history(bits, t), iteration=t))


def regenerate() -> None:
    """Writes ``tests/fixtures/learned``: the shipped model's codes of two bundled samples and their files."""
    from rnncomp import codec
    from rnncomp.images import load_images, sample_images_dir
    from rnncomp.zoo import load_model

    model = load_model("rnncomp-default")
    fc = codec.file_codec(model)
    root = sample_images_dir()
    kodak = load_images(root / "kodak")[0][1][:128, :192]
    with np.load(root / "thumbs32" / "thumbs32-sample.npz") as d:
        thumb = d["images"][0]
    FIXTURE.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, img in (("thumb0", thumb), ("kodim04-crop", kodak)):
        bits = np.asarray(model.encode(img, 8).bits[:, 0], np.uint8)
        header = fc.header(img.shape[0], img.shape[1], 8, "learned")
        (FIXTURE / f"{name}.rnc").write_bytes(bitstream.write(bits, header, context_model=fc.context_model))
        arrays[name] = np.packbits(bits, axis=-1)
    np.savez_compressed(FIXTURE / "codes.npz", **arrays)


if __name__ == "__main__":
    regenerate()
