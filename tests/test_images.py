import numpy as np
import pytest

from rnncomp.errors import RnncompError
from rnncomp.images import iter_images, load_image, load_images, save_image


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


def test_grey_and_rgba_become_rgb(tmp_path):
    from PIL import Image

    Image.new("L", (7, 5), 100).save(tmp_path / "g.png")
    Image.new("RGBA", (7, 5), (1, 2, 3, 4)).save(tmp_path / "a.png")
    assert load_image(tmp_path / "g.png").shape == (5, 7, 3)
    assert load_image(tmp_path / "a.png")[0, 0].tolist() == [1, 2, 3]


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
