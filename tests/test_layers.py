"""Property tests of rnncomp.layers on tiny tensors (seconds)."""

import numpy as np
import pytest

import keras
from keras import ops

from rnncomp.layers import (
    Binarizer,
    ConvGRUCell,
    ConvLSTMCell,
    GainEstimator,
    ResidualConvGRUCell,
    binarize,
    deterministic_binarize,
    stochastic_binarize,
)

CELLS = [
    (ConvLSTMCell, {}),
    (ConvGRUCell, {}),
    (ConvGRUCell, {"reset_after": True}),
    (ResidualConvGRUCell, {}),
]


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def _grad(fn, x):
    """d sum(fn(x)) / dx (TensorFlow backend)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient helper uses the TensorFlow backend")
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(fn(x))
    return tape.gradient(y, x).numpy()


@pytest.mark.parametrize("cell_class,kwargs", CELLS)
@pytest.mark.parametrize("size", [(16, 16), (33, 20), (7, 5)])
@pytest.mark.parametrize("strides,kernel,hidden", [(2, 3, 1), (1, 3, 3), (2, 5, 3)])
def test_cell_output_and_state_shapes(cell_class, kwargs, size, strides, kernel, hidden):
    cell = cell_class(6, kernel_size=kernel, strides=strides, hidden_kernel_size=hidden, **kwargs)
    x = _rand(2, *size, 5)
    out, states = cell(x)
    expected = (2, -(-size[0] // strides), -(-size[1] // strides), 6)
    assert tuple(out.shape) == expected
    assert len(states) == cell.state_count
    assert all(tuple(s.shape) == expected for s in states)
    out2, states2 = cell(x, states)  # the state is carried explicitly
    assert tuple(out2.shape) == expected
    assert cell.output_spatial_shape(*size) == expected[1:3]
    out_shape, state_shapes = cell.compute_output_shape((2, *size, 5))
    assert out_shape == expected and len(state_shapes) == cell.state_count


@pytest.mark.parametrize("cell_class,kwargs", CELLS)
def test_cell_none_state_equals_explicit_zero_state(cell_class, kwargs):
    cell = cell_class(4, strides=2, hidden_kernel_size=3, **kwargs)
    x = _rand(1, 12, 10, 3)
    out_none, states_none = cell(x, None)
    out_zero, states_zero = cell(x, cell.get_initial_state(x))
    np.testing.assert_array_equal(np.asarray(out_none), np.asarray(out_zero))
    for a, b in zip(states_none, states_zero):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("cell_class,kwargs", CELLS)
def test_cell_weights_are_fused(cell_class, kwargs):
    cell = cell_class(8, kernel_size=3, strides=2, hidden_kernel_size=1, **kwargs)
    cell.build((None, None, None, 5))
    gates = cell.gate_count
    assert tuple(cell.kernel.shape) == (3, 3, 5, gates * 8)
    assert tuple(cell.recurrent_kernel.shape) == (1, 1, 8, gates * 8)
    assert tuple(cell.bias.shape) == (gates * 8,)


def test_lstm_forget_bias_starts_at_one():
    cell = ConvLSTMCell(3)
    cell.build((None, None, None, 2))
    np.testing.assert_array_equal(np.asarray(cell.bias), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("cell_class,kwargs", CELLS)
def test_cell_config_round_trip(cell_class, kwargs):
    cell = cell_class(4, kernel_size=5, strides=2, hidden_kernel_size=3, use_bias=False, **kwargs)
    x = _rand(1, 9, 9, 3)
    out, states = cell(x)
    out, _ = cell(x, states)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is cell_class
    assert restored.get_config() == cell.get_config()
    assert restored.built  # build_config travels with the config
    restored.set_weights(cell.get_weights())
    out2, states2 = restored(x)
    out2, _ = restored(x, states2)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(out2))


def test_residual_gru_adds_a_projection_shortcut():
    cell = ResidualConvGRUCell(4, strides=2)
    x = _rand(1, 8, 8, 3)
    out, (h,) = cell(x)
    shortcut = ops.conv(x, cell.shortcut_kernel, strides=2, padding="same")
    np.testing.assert_allclose(np.asarray(out), np.asarray(h + shortcut), atol=1e-6)


def test_binarizer_shapes_and_values():
    layer = Binarizer(bits=7, seed=3)
    x = _rand(2, 5, 3, 4)
    b = np.asarray(layer(x))
    assert b.shape == (2, 5, 3, 7)
    assert set(np.unique(b)) <= {-1.0, 1.0}
    b_train = np.asarray(layer(x, training=True))
    assert set(np.unique(b_train)) <= {-1.0, 1.0}  # exactly +-1, also in training
    assert layer.compute_output_shape((2, 5, 3, 4)) == (2, 5, 3, 7)


def test_binarizer_inference_is_deterministic_sign():
    layer = Binarizer(bits=5, seed=1)
    x = _rand(3, 4, 4, 6)
    b1, b2 = np.asarray(layer(x)), np.asarray(layer(x))
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(b1, np.where(np.asarray(layer.project(x)) >= 0, 1.0, -1.0))
    np.testing.assert_array_equal(
        np.asarray(deterministic_binarize(ops.convert_to_tensor([-0.3, 0.0, 0.2]))), [-1, 1, 1]
    )


def test_straight_through_gradient_is_identity():
    x = _rand(4, 3, 3, 5) * 0.9
    seed = keras.random.SeedGenerator(0)
    np.testing.assert_array_equal(_grad(lambda v: stochastic_binarize(v, seed), x), np.ones_like(x))
    np.testing.assert_array_equal(_grad(lambda v: binarize(v, True, seed) * 1.0, x), np.ones_like(x))


def test_stochastic_binarizer_mean_matches_input():
    values = np.linspace(-0.95, 0.95, 9, dtype="float32")
    n = 20000
    x = np.tile(values, (n, 1))
    b = np.asarray(stochastic_binarize(ops.convert_to_tensor(x), keras.random.SeedGenerator(7)))
    assert set(np.unique(b)) <= {-1.0, 1.0}
    # E[b] = x; the standard error of the mean is at most 1/sqrt(n) ~ 0.007.
    np.testing.assert_allclose(b.mean(axis=0), values, atol=0.03)


def test_binarizer_seed_reproducible_and_config_round_trip():
    x = _rand(2, 4, 4, 3)
    a, b = Binarizer(bits=6, seed=11), Binarizer(bits=6, seed=11)
    a.build(x.shape)
    b.build(x.shape)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(np.asarray(a(x, training=True)), np.asarray(b(x, training=True)))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(a))
    assert isinstance(restored, Binarizer) and restored.get_config() == a.get_config()


@pytest.mark.parametrize("size", [(32, 32), (40, 17), (5, 70)])
def test_gain_estimator_shape_and_range(size):
    layer = GainEstimator(filters=4, layers=5)
    x = _rand(2, *size, 3) * 0.5
    g = np.asarray(layer(x))
    assert g.shape == (2, *size, 1)
    assert g.min() > 1.0  # ELU > -1, plus 2
    # One gain per 32x32 block (zero-order hold).
    assert np.all(g[:, : min(32, size[0]), : min(32, size[1])] == g[:, :1, :1])
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert restored.get_config() == layer.get_config()
