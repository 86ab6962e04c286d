"""Where a number came from: the machine and library versions, stored in every result file."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone

__all__ = ["machine_info"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(with_tensorflow: bool = False) -> dict:
    """A JSON-able description of this machine and the versions that affect results."""
    from PIL import Image, features

    info = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "pillow": Image.__version__,
        "libjpeg": features.version("jpg"),
        "libjpeg-turbo": features.version("libjpeg_turbo"),
        "libwebp": features.version("webp"),
        "openjpeg": features.version("jpg_2000"),
        "libavif": features.version("avif"),
    }
    try:
        import pillow_heif

        info["pillow-heif"] = pillow_heif.__version__
        info["libheif"] = pillow_heif.libheif_version()
    except ImportError:
        info["pillow-heif"] = None
    if with_tensorflow:
        import keras
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        info["keras"] = keras.__version__
        info["keras-backend"] = keras.backend.backend()
        info["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return info
