import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from rnncomp.errors import RnncompError, RnncompWarning
from rnncomp.images import decode_image, iter_images, load_image, load_images, save_image, to_rgb


def test_samples_load(samples_dir):
    kodak = load_images(samples_dir / "kodak")
    assert [n for n, _ in kodak] == ["kodim04-half", "kodim14-half", "kodim23-half"]
    assert all(img.dtype == np.uint8 and img.shape[2] == 3 for _, img in kodak)
    thumbs = load_images(samples_dir / "thumbs32")
    assert len(thumbs) == 16 and thumbs[0][1].shape == (32, 32, 3)
    assert thumbs[0][0].startswith("thumbs32-sample[0]:")


def test_folder_is_recursive_and_limit_works(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "a" / "b").mkdir(parents=True)
    save_image(tmp_path / "x.png", rng.integers(0, 256, (8, 9, 3), dtype=np.uint8))
    save_image(tmp_path / "a" / "b" / "y.png", rng.integers(0, 256, (5, 6, 3), dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image, not listed")
    assert len(load_images(tmp_path)) == 2
    assert len(load_images(tmp_path, limit=1)) == 1


def png_bytes(width, height, depth, color_type, rows: bytes) -> bytes:
    """A PNG written by hand (Pillow cannot write 48-bit RGB): ``rows`` are the unfiltered scanlines."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_grey_becomes_rgb(tmp_path):
    Image.new("L", (7, 5), 100).save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").shape == (5, 7, 3)


def test_transparency_is_composited_on_white_with_a_notice(tmp_path):
    rgba = np.zeros((5, 7, 4), np.uint8)
    rgba[..., :3] = (200, 100, 0)
    rgba[:, :3, 3] = 255  # opaque left part; the rest fully or half transparent
    rgba[:, 3:5, 3] = 0
    rgba[:, 5:, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with pytest.warns(RnncompWarning, match="a.png: transparent pixels composited on white"):
        got = load_image(tmp_path / "a.png")
    assert got[0, 0].tolist() == [200, 100, 0] and got[0, 3].tolist() == [255, 255, 255]
    assert np.abs(got[0, 6].astype(int) - [228, 178, 127]).max() <= 1  # half-way to white
    Image.new("RGBA", (7, 5), (1, 2, 3, 255)).save(tmp_path / "opaque.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an opaque alpha channel changes nothing: no notice
        assert load_image(tmp_path / "opaque.png")[0, 0].tolist() == [1, 2, 3]


def test_16_bit_images_are_scaled_to_8_bits(tmp_path):
    ramp = (np.arange(4 * 256).reshape(4, 256) * 64).astype(np.uint16)  # 0 .. 65472
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    want = np.rint(ramp / 257.0).astype(np.uint8)
    got = load_image(tmp_path / "g16.png")
    assert got.shape == (4, 256, 3) and (got == want[..., None]).all()
    assert got.max() == 255 and got[0, 1, 0] == 0 and got[0, 128, 0] == 32  # not clipped to white
    got = to_rgb(Image.fromarray(ramp.astype(np.int32)))  # mode I (older Pillow's 16-bit PNGs)
    assert (got == want[..., None]).all()
    rgb48 = np.zeros((2, 3, 3), ">u2")
    rgb48[...] = (65535, 32896, 257)
    rows = b"".join(b"\x00" + row.tobytes() for row in rgb48)
    (tmp_path / "rgb48.png").write_bytes(png_bytes(3, 2, 16, 2, rows))
    assert load_image(tmp_path / "rgb48.png")[1, 2].tolist() == [255, 128, 1]


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((4, 8, 3), np.uint8)  # 8 wide, 4 high: red left half, blue right half
    img[:, :4, 0] = 255
    img[:, 4:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    Image.fromarray(img).save(tmp_path / "o.png", exif=exif)
    got = load_image(tmp_path / "o.png")
    np.testing.assert_array_equal(got, np.rot90(img, k=-1))  # 4 wide, 8 high: red on top
    Image.fromarray(np.zeros((240, 320, 3), np.uint8)).save(tmp_path / "o.jpg", exif=exif)
    assert load_image(tmp_path / "o.jpg").shape == (320, 240, 3)


def test_decompression_bomb_is_a_one_line_error(tmp_path):
    rows = b"\x00" + bytes(3)  # one pixel of data, the header claims 20000x20000
    (tmp_path / "bomb.png").write_bytes(png_bytes(20000, 20000, 8, 2, rows))
    with pytest.raises(RnncompError, match="bomb.png: image too large to decode safely"):
        load_image(tmp_path / "bomb.png")
    with pytest.raises(RnncompError, match="<bytes>: image too large"):
        decode_image((tmp_path / "bomb.png").read_bytes())


def test_user_errors_are_clear(tmp_path):
    with pytest.raises(RnncompError, match="no such file"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(RnncompError, match="not an image"):
        load_image(bad)
    truncated = tmp_path / "trunc.png"
    save_image(truncated, np.zeros((64, 64, 3), np.uint8) + 7)
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(RnncompError):
        load_image(truncated)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RnncompError, match="no images found"):
        load_images(empty)
    with pytest.raises(RnncompError, match="no such file"):
        list(iter_images(tmp_path / "nowhere"))
    np.savez(tmp_path / "wrong.npz", pixels=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(RnncompError, match="no 'images'"):
        load_images(tmp_path / "wrong.npz")
