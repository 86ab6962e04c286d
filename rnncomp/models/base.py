"""What every rnncomp model shares: a ``keras.Model`` built from one config dataclass, and backend helpers.

- :class:`ConfigModel`: the model is built from its config (nanoGPT style) and
  ``.keras`` files rebuild it from ``get_config``;
- :func:`compile_step`: a coding step compiled for the current backend;
- :func:`to_numpy`, :func:`scale_for_distribution`.

The binary codecs' training and coding contract is :mod:`rnncomp.models.binary`.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["ConfigModel", "compile_step", "scale_for_distribution", "to_numpy"]


def compile_step(fn, variables):
    """Compiles a coding step for the current backend (weights are read at every call).

    TensorFlow: ``tf.function``. JAX: ``jax.jit`` of a pure function that takes
    the current variable values (through ``keras.StatelessScope``), so later
    weight updates are seen. Other backends: the plain (eager) function.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # only the TF backend's hot path

        return tf.function(fn, reduce_retracing=True)
    if backend == "jax":
        import jax

        variables = list(variables)

        def pure(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*args)

        jitted = jax.jit(pure)
        return lambda *args: jitted([v.value for v in variables], *args)
    return fn


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))



def scale_for_distribution(loss):
    """Divides the loss by the number of replicas under a ``tf.distribute`` strategy.

    Keras's own compiled losses do this (``scale_loss_for_distribution``) and its
    trainer multiplies the reported loss back; a ``compute_loss`` override must
    do it itself, or replicas' gradients are summed instead of averaged.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss * (1.0 / replicas)
    return loss


class ConfigModel(keras.Model):
    """A ``keras.Model`` built from one config dataclass (``config_class``), nanoGPT style.

    ``config=`` takes the dataclass or its dict (``None``: the defaults);
    ``get_config``/``from_config`` store it, so ``.keras`` files rebuild the model.
    """

    config_class = None

    def __init__(self, config=None, **kwargs):
        super().__init__(**kwargs)
        cls = self.config_class
        if config is None:
            config = cls()
        elif isinstance(config, dict):
            config = cls.from_dict(config)
        elif not isinstance(config, cls):
            raise TypeError(f"config must be a {cls.__name__} or dict, got {type(config).__name__}")
        self.config = config

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model_config = config.pop("config", None)
        config.pop("dtype", None)
        return cls(config=model_config, **config)
