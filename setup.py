"""rnncomp: learned lossy image compression (recurrent ConvLSTM codec + end-to-end CNN codec)."""

from setuptools import find_packages, setup

# Pinned to the versions verified on the project's machines (Python 3.11, 2-core x86_64 CPU).
INSTALL_REQUIRES = [
    "tensorflow-cpu==2.21.0",
    "keras==3.15.1",
    "tensorflow-datasets==4.9.10",
    "importlib_resources==7.1.0",  # tfds 4.9.10 imports it without declaring it
    "keras-tuner==1.4.8",
    "tensorboard==2.21.0",  # tf.summary needs it; tensorflow-cpu 2.21 does not depend on it
    "numpy==2.4.6",
    "scipy==1.17.1",
    "pillow==13.0.0",  # JPEG, WebP, JPEG2000 and AVIF built in
    "pillow-heif==1.8.1",  # HEIF
    "matplotlib==3.11.2",
    "constriction==0.5.0",
    "tqdm==4.70.1",
]

EXTRAS_REQUIRE = {
    "test": [
        "pytest==9.2.0",
        "pytest-xdist==3.8.0",
        "bjontegaard==1.3.0",  # independent BD-rate implementation, checked against ours
        "hypothesis==6.170.15",  # fuzzing of the bitstream decoder
        "nbclient==0.11.0",  # runs notebooks/ in their FAST setting
        "nbformat==5.11.1",
        "ipykernel==7.4.0",
    ],
    # Keras's JAX backend (the lent GPU machines have JAX but no TensorFlow); slow test only.
    "jax": ["jax==0.10.2", "jaxlib==0.10.2"],
    # rnncomp export: ONNX (tf2onnx works with TF 2.21 / protobuf 7 here) and LiteRT, a TFLite
    # runtime without TensorFlow for decode_example.py. TFLite conversion needs only tensorflow-cpu.
    "export": ["tf2onnx==1.17.0", "onnx==1.23.2", "onnxruntime==1.32.0", "ai-edge-litert==2.3.0"],
}

setup(
    name="rnncomp",
    version="0.1.0",
    description=__doc__,
    python_requires=">=3.10",
    packages=find_packages(include=["rnncomp", "rnncomp.*"]),
    package_data={"rnncomp": ["samples/*/*", "samples/*.md", "weights/*/*"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["rnncomp = rnncomp.cli:main"]},
)
