"""The one walk over a model's layers that every per-layer summary and analysis uses."""

import keras


def walk_layers(model):
    """The layers of `model` in order, with nested models replaced by their own layers.

    A wrapper layer (such as SpectralNormalization) is yielded itself, not
    entered: callers decide whether they want the wrapper or what it wraps.
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from walk_layers(layer)
        else:
            yield layer
