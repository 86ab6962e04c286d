"""Shared fixtures: the bundled sample images and, where present, ../shared."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RNNCOMP_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    from rnncomp.images import sample_images_dir

    return sample_images_dir()


@pytest.fixture(scope="session")
def kodak_samples(samples_dir):
    from rnncomp.images import load_images

    return load_images(samples_dir / "kodak")


@pytest.fixture(scope="session")
def thumbs(samples_dir) -> np.ndarray:
    with np.load(samples_dir / "thumbs32" / "thumbs32-sample.npz") as d:
        return d["images"]


@pytest.fixture(scope="session")
def anchors() -> Path:
    path = SHARED / "anchors" / "kodak-rd"
    if not path.is_dir():
        pytest.skip(f"published anchors not found at {path}")
    return path


def make_prior(bits: int, seed: int = 0) -> dict:
    """A well-formed random context prior for ``bits`` channels (for the ``prior`` coder's tests)."""
    from rnncomp.entropy.prior import random_prior

    return random_prior(bits, seed)


def make_context_model(bits: int, seed: int = 0, h1: int = 8, h2: int = 4, scale: int = 300) -> dict:
    """A well-formed random integer context model for ``bits`` channels (for the ``learned`` coder's tests)."""
    from rnncomp.entropy.learned import random_context_model

    return random_context_model(bits, seed, h1, h2, scale)
