import logging

import numpy as np
import pytest

from rnncomp.training import data
from rnncomp.training.data import Augment, Source, make_train_dataset, make_validation_set
from rnncomp.errors import RnncompError
from rnncomp.images import save_image

NO_AUG = Augment.from_dict(False)


def _take(ds, n):
    return [b.numpy() for b in ds.take(n)]


def test_folder_and_npz_batches_mix_per_batch(samples_dir):
    sources = [Source(f"folder:{samples_dir}/kodak", batch=3, crops_per_image=2),
               Source(f"npz:{samples_dir}/thumbs32/thumbs32-sample.npz", batch=2)]
    ds, per_epoch = make_train_dataset(sources, 32, seed=0)
    assert per_epoch == 2  # 3 images x 2 crops // 3
    batches = _take(ds, 3)
    for b in batches:
        assert b.shape == (5, 32, 32, 3) and b.dtype == np.float32
        assert 0.0 <= b.min() and b.max() <= 1.0


def test_stream_is_a_function_of_seed_and_step(samples_dir):
    sources = [Source(f"folder:{samples_dir}/kodak", batch=2, crops_per_image=3),
               Source(f"npz:{samples_dir}/thumbs32/thumbs32-sample.npz", batch=2)]
    full = _take(make_train_dataset(sources, 32, seed=5)[0], 8)
    again = _take(make_train_dataset(sources, 32, seed=5)[0], 8)
    resumed = _take(make_train_dataset(sources, 32, seed=5, start_step=5)[0], 3)
    other = _take(make_train_dataset(sources, 32, seed=6)[0], 1)
    for a, b in zip(full, again):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(full[5:], resumed):
        np.testing.assert_array_equal(a, b)  # resuming at step 5 sees batches 5, 6, 7
    assert not np.array_equal(full[0], other[0])
    # Data-epochs differ (a new permutation and new crops), they do not repeat.
    assert not np.array_equal(full[0], full[4])


def test_without_augmentation_crops_are_exact_pixels(samples_dir, thumbs):
    ds, _ = make_train_dataset([Source(f"npz:{samples_dir}/thumbs32/thumbs32-sample.npz", batch=16)],
                               32, seed=0, augment=NO_AUG)
    batch = _take(ds, 1)[0]
    got = np.round(batch * 255).astype(np.uint8)
    # Every crop is one of the thumbnails, and each thumbnail appears once per data-epoch.
    keys = {t.tobytes() for t in thumbs}
    assert {g.tobytes() for g in got} == keys


def test_augmentations_change_pixels_but_keep_range(samples_dir):
    src = [Source(f"npz:{samples_dir}/thumbs32/thumbs32-sample.npz", batch=16)]
    plain = _take(make_train_dataset(src, 24, seed=0, augment=NO_AUG)[0], 1)[0]
    aug = _take(make_train_dataset(src, 24, seed=0)[0], 1)[0]
    assert plain.shape == aug.shape == (16, 24, 24, 3)
    assert not np.allclose(plain, aug)


def test_undecodable_files_are_skipped_and_counted(tmp_path, caplog):
    rng = np.random.default_rng(0)
    for i in range(4):
        save_image(tmp_path / f"ok{i}.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    data.SKIPPED.clear()
    with caplog.at_level(logging.WARNING, logger="rnncomp.training.data"):
        ds, _ = make_train_dataset([Source(f"folder:{tmp_path}", batch=2)], 32, seed=0)
        batches = _take(ds, 6)  # three data-epochs: never a crash
    assert len(batches) == 6
    assert list(data.SKIPPED) == [str(tmp_path / "broken.jpg")]
    assert sum("cannot be decoded" in r.message for r in caplog.records) == 1


def test_holdout_is_kept_out_and_validation_is_fixed(samples_dir):
    src = [Source(f"folder:{samples_dir}/kodak", batch=1, holdout=1),
           Source(f"npz:{samples_dir}/thumbs32/thumbs32-sample.npz", batch=1, holdout=4)]
    info = data.resolve_source(src[0], seed=0)
    assert len(info["train"]) == 2 and len(info["holdout"]) == 1
    assert not set(info["train"]) & set(info["holdout"])
    v1 = make_validation_set(src, 32, limit=10, seed=0)
    v2 = make_validation_set(src, 32, limit=10, seed=0)
    assert v1.shape == (5, 32, 32, 3) and v1.dtype == np.uint8
    np.testing.assert_array_equal(v1, v2)


def test_source_errors(tmp_path):
    with pytest.raises(RnncompError, match="no such folder"):
        data.resolve_source(Source(f"folder:{tmp_path}/nope"))
    with pytest.raises(RnncompError, match="no .npz files match"):
        data.resolve_source(Source(f"npz:{tmp_path}/*.npz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RnncompError, match="no images found"):
        data.resolve_source(Source(f"folder:{tmp_path}/empty"))


@pytest.mark.parametrize("name", ["cifar10", "stl10", "coco/2017", "clic"])
def test_tfds_sources_with_mock_data(name):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        ds, per_epoch = make_train_dataset([Source(f"tfds:{name}:train", batch=3)], 32, seed=0)
        batches = _take(ds, 3)
    assert per_epoch is None
    # Mock images can be 6-48 px a side: they are upscaled to the patch, never a crash.
    assert all(b.shape == (3, 32, 32, 3) for b in batches)


def test_tfds_without_data_fails_fast(tmp_path):
    import time

    start = time.monotonic()
    with pytest.raises(RnncompError, match="not prepared"):
        data.load_tfds("cifar10", "train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 30
    with pytest.raises(RnncompError, match="not one rnncomp knows"):
        data.load_tfds("mnist", "train")


def test_validation_from_tfds_split_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        v = make_validation_set([], 8, limit=3, validation_sources=[Source("tfds:cifar10:test")])
    assert v.shape == (3, 8, 8, 3) and v.dtype == np.uint8


def test_experiment_configs_parse():
    from pathlib import Path

    from rnncomp.training.trainer import load_train_config, model_config

    import json

    from rnncomp.config import SRGANConfig

    for path in sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.json")):
        raw = json.loads(path.read_text())
        if "pretrain_steps" in raw:  # an SRGAN experiment (rnncomp srgan-train), not a TrainConfig
            SRGANConfig.from_dict(raw["model"])
            assert raw["data"] and raw["steps"] >= raw["pretrain_steps"], path
            continue
        cfg = load_train_config(path)
        model_config(cfg)  # the model part is a valid model config
        assert cfg.data["sources"], path
