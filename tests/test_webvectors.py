"""The committed test vectors of the web decoder (web/vectors, rnncomp.tools.webvectors) are what rnncomp says today.

The JavaScript tests (web/test, ``make web-test``) read the same files: this keeps the one source of truth true.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from rnncomp import bitstream
from rnncomp.entropy import pack_raw
from rnncomp.tools import webvectors

VECTORS = Path(__file__).resolve().parents[1] / "web" / "vectors"


def _load(name):
    return json.loads((VECTORS / name).read_text())


def _prior(p):
    return {k: np.asarray(v, np.int64) for k, v in p.items()} if p else None


def test_the_coder_vectors_decode_to_their_codes_and_match_a_fresh_generation():
    committed = _load("coders.json")["cases"]
    fresh = [entry for entry, _ in webvectors.coder_cases()]
    assert [c["name"] for c in committed] == [c["name"] for c in fresh]
    for c, f in zip(committed, fresh):
        data = (VECTORS / c["file"]).read_bytes()
        codes = [pack_raw(b).hex() for b in bitstream.iter_codes(data, prior=_prior(c.get("prior")))]
        assert codes == c["codes"] == f["codes"], c["name"]
        assert c["truncated_bytes"] == f["truncated_bytes"] and c["stored_raw"] == f["stored_raw"], c["name"]


def test_every_hostile_vector_has_rnncomps_outcome():
    vectors = _load("hostile.json")
    priors = {k: _prior(v) for k, v in vectors["priors"].items()}
    cases = vectors["cases"]
    assert len(cases) > 1500 and sum("error" in c for c in cases) > 1400
    for c in cases:
        got = webvectors.outcome(bytes.fromhex(c["hex"]), c["partial"], priors.get(c.get("prior")))
        want = {k: c[k] for k in ("codes", "tiled", "kind", "error") if k in c}
        assert got == want, (c["group"], c["hex"][:60])


def test_the_hostile_vectors_are_a_fresh_generation_of_the_python_tests_cases():
    fresh = webvectors.hostile_cases()
    committed = [c for c in _load("hostile.json")["cases"] if not c["group"].startswith("fuzz-")]
    assert [(c["group"], c["hex"]) for c in committed] == [(c["group"], c["hex"]) for c in fresh]


def test_the_adaptive_vectors_match_a_fresh_generation_and_rnncomps_outcomes():
    vectors = _load("sabr.json")
    fresh = [entry for entry, _ in webvectors.sabr_cases()]
    assert [c["name"] for c in vectors["cases"]] == [c["name"] for c in fresh]
    for c, f in zip(vectors["cases"], fresh):
        data = (VECTORS / c["file"]).read_bytes()
        assert data[2] == bitstream.VERSION_SABR, c["name"]
        prior = _prior(vectors["priors"].get(c.get("prior")))
        assert [pack_raw(b).hex() for b in bitstream.iter_codes(data, prior=prior)] == c["codes"], c["name"]
        assert c == f, c["name"]
    assert {c["map_coder"] for c in vectors["cases"]} == {"raw", "huffman", "arithmetic", "predictive"}
    hostile = webvectors.sabr_hostile_cases()
    assert [(c["group"], c["hex"]) for c in vectors["hostile"]] == [(c["group"], c["hex"]) for c in hostile]
    for c, f in zip(vectors["hostile"], hostile):
        assert c == f, (c["group"], c["hex"][:60])


def _check_model_vectors(vectors, cases):
    """Each case's file decodes to its codes, and its pixels after every iteration within the tolerance."""
    from rnncomp import codec

    for c in cases:
        data = (VECTORS / c["file"]).read_bytes()
        assert [pack_raw(b).hex() for b in bitstream.iter_codes(data)] == c["codes"]
        expected = np.frombuffer((VECTORS / c["pixels"]).read_bytes(), np.uint8).reshape(
            c["iterations"], c["height"], c["width"], 3)
        steps = np.stack(list(codec.decompress_progressive(data, vectors["model"])))
        assert np.abs(steps.astype(int) - expected).max() <= vectors["tolerance"], c["name"]


def test_the_adaptive_model_vectors_decode_to_their_pixels_within_one_level():
    vectors = _load("sabr.json")["model"]
    assert vectors["cases"]
    _check_model_vectors(vectors, vectors["cases"])


def test_the_model_vectors_decode_to_their_pixels_within_one_level():
    vectors = _load("model.json")
    _check_model_vectors(vectors, vectors["cases"][:6])


def test_the_pages_example_of_a_file_it_does_not_decode_is_refused_by_rnncomp_too():
    from rnncomp import codec
    from rnncomp.errors import RnncompError

    vectors = _load("model.json")
    assert vectors["unsupported"]
    for u in vectors["unsupported"]:
        with pytest.raises(RnncompError) as e:
            codec.decompress((VECTORS / u["file"]).read_bytes())
        assert str(e.value) == u["rnncomp"]["error"]


@pytest.mark.parametrize("name", ["decoder.onnx", "manifest.json"])
def test_the_page_ships_the_default_models_exported_decoder(name):
    from rnncomp import zoo

    folder = VECTORS.parent / "model"
    assert (folder / name).stat().st_size < 20 << 20
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"]["fingerprint"] == zoo.fingerprint(zoo.load_model(zoo.DEFAULT_MODEL)).hex()
