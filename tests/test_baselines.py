import numpy as np
import pytest

from rnncomp.evaluation import baselines
from rnncomp.errors import RnncompError
from rnncomp.evaluation.metrics import psnr

AVAILABLE = [n for n, reason in baselines.available_codecs().items() if reason is None]


def test_the_codecs_the_project_needs_are_here():
    # Pillow 13 + pillow-heif as pinned in setup.py: all of them must work.
    assert set(AVAILABLE) >= {"jpeg", "jpeg444", "jpeg-headerless", "jpeg2000", "webp", "heif", "avif"}


@pytest.mark.parametrize("name", AVAILABLE)
def test_round_trip_and_rate_grows_with_quality(name, thumbs, kodak_samples):
    codec = baselines.get_codec(name)
    lo, hi = codec.qualities[2], codec.qualities[-2]
    for image in (thumbs[0], kodak_samples[0][1][:64, :80]):
        a, b = codec.encode(image, lo), codec.encode(image, hi)
        da, db = codec.decode(a), codec.decode(b)
        assert da.shape == db.shape == image.shape and da.dtype == np.uint8
        assert a.bpp == 8 * len(a.data) / (image.shape[0] * image.shape[1])
        assert len(b.data) > len(a.data)
        assert psnr(image, db)[0] > psnr(image, da)[0] > 15


@pytest.mark.parametrize("name", ["jpeg", "webp", "jpeg2000"])
def test_search_bpp_hits_target_from_below(name, kodak_samples):
    codec = baselines.get_codec(name)
    image = kodak_samples[0][1][:128, :128]
    enc = codec.search_bpp(image, 1.0)
    assert enc.bpp <= 1.0
    step = 1 if codec.integer_quality else 0.05
    if enc.quality + step <= codec.quality_range[1]:
        assert codec.encode(image, enc.quality + step).bpp > 1.0 or name == "jpeg2000"
    assert enc.bpp > 0.6  # close to the target, not merely below it


def test_headerless_jpeg_strips_exactly_the_common_header(thumbs):
    full, stripped = baselines.JPEGPillowDefault(), baselines.get_codec("jpeg-headerless")
    headers = set()
    for image in thumbs[:6]:
        whole = full.encode(image, 50).data
        scan = stripped.encode(image, 50)
        header, body, eoi = baselines.jpeg_split_header(whole)
        headers.add(header)
        assert scan.data == body and eoi == b"\xff\xd9"
        assert len(scan.data) == len(whole) - len(header) - 2
        # The stripped stream decodes once the common header is put back, to the same pixels.
        np.testing.assert_array_equal(stripped.decode(scan), full.decode(full.encode(image, 50)))
    assert len(headers) == 1  # one header for every file of this size and quality
    assert len(headers.pop()) > 500  # the bytes a 32x32 thumbnail no longer pays for


def test_headerless_header_depends_on_size_and_quality():
    c = baselines.JPEGHeaderless()
    assert c.common_header(32, 32, 50) != c.common_header(32, 32, 60)
    assert c.common_header(32, 32, 50) != c.common_header(32, 48, 50)
    assert len(c.common_header(32, 32, 50)) == len(c.common_header(32, 48, 50))


def test_unknown_and_unavailable_codecs_say_so(thumbs):
    with pytest.raises(RnncompError, match="unknown codec 'jpegxl'.*known: jpeg"):
        baselines.get_codec("jpegxl")

    class Missing(baselines.JPEG):
        name = "missing"

        def availability(self):
            return "not built in"

    with pytest.raises(RnncompError, match="not available on this machine: not built in"):
        Missing().encode(thumbs[0], 50)


def test_bad_inputs_raise(thumbs):
    codec = baselines.get_codec("jpeg")
    with pytest.raises(RnncompError, match="quality 101"):
        codec.encode(thumbs[0], 101)
    with pytest.raises(RnncompError, match="uint8"):
        codec.encode(thumbs[0].astype(np.float32), 50)
    with pytest.raises(RnncompError, match="not a JPEG"):
        baselines.jpeg_split_header(b"nope")
