"""Modulation networks (Yang et al., "Modulated autoencoder", IEEE SPL 2020).

A small MLP maps the trade-off lambda to strictly positive per-channel scales:
lambda / lambda_norm -> Dense(50) -> ReLU -> Dense(C) -> exp. A modulated
model holds one per GDN of its analysis transform (scaling the convolution's
output before the GDN) and one per IGDN of its synthesis transform (the
"demodulation", scaling the IGDN's output before the next convolution); the
demodulation scales are learned, not the reciprocals of the modulation.
"""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

HIDDEN_UNITS = 50
# Lambdas the least-squares fit of `fit_log_scales` is taken over.
FIT_POINTS = 256


class ModulationMLP(tf.keras.layers.Layer):
  """Per-sample lambdas [batch] to positive channel scales [batch, C], in
  float32 under any policy (lambda spans decades)."""

  def __init__(self, channels, lmbda_norm, name=None):
    super().__init__(name=name, dtype="float32")
    self.lmbda_norm = float(lmbda_norm)
    self.hidden = tf.keras.layers.Dense(HIDDEN_UNITS, activation="relu",
                                        name="hidden", dtype="float32")
    self.scales = tf.keras.layers.Dense(channels, name="scales",
                                        dtype="float32")
    self.hidden.build((None, 1))
    self.scales.build((None, HIDDEN_UNITS))

  def fit_log_scales(self, lmbda_range, log_scale):
    """Sets the MLP so that every channel's scale is about
    exp(log_scale(lambda)) over `lmbda_range` (constant below it).

    The hidden units become hinges relu(c - knot) with knots log-spaced over
    the range, and the output layer is the least-squares fit on log-spaced
    lambdas: a piecewise-linear curve the training then refines.
    """
    lo, hi = lmbda_range
    lmbdas = np.geomspace(lo, hi, FIT_POINTS)
    knots = np.geomspace(lo, hi, HIDDEN_UNITS + 1)[:-1] / self.lmbda_norm
    hinges = np.maximum(lmbdas[:, None] / self.lmbda_norm - knots, 0.)
    design = np.concatenate([hinges, np.ones((FIT_POINTS, 1))], axis=1)
    solution = np.linalg.lstsq(design, log_scale(lmbdas), rcond=None)[0]
    self.hidden.kernel.assign(np.ones(self.hidden.kernel.shape))
    self.hidden.bias.assign(-knots)
    self.scales.kernel.assign(
        np.broadcast_to(solution[:-1, None], self.scales.kernel.shape))
    self.scales.bias.assign(np.full(self.scales.bias.shape, solution[-1]))

  def call(self, lmbda):
    condition = tf.reshape(tf.cast(lmbda, tf.float32) / self.lmbda_norm,
                           [-1, 1])
    return tf.exp(self.scales(self.hidden(condition)))


def gdn_channels(transform, input_channels):
  """Channel count at each (I)GDN of a transform built with separate GDNs:
  what the modulation networks of `run_modulated` must output."""
  channels, last = [], input_channels
  for layer in transform.layers:
    if isinstance(layer, tfc.GDN):
      channels.append(last)
    elif isinstance(layer, tfc.SignalConv2D):
      last = layer.filters
  return channels


def run_modulated(transform, x, scales):
  """Runs `transform` (GDNs as separate layers) with the [batch, C] `scales`
  applied in order: on the input of each GDN, on the output of each IGDN."""
  scales = list(reversed(scales))

  def scaled(x):
    return x * tf.cast(scales.pop(), x.dtype)[:, None, None, :]

  gdns = sum(isinstance(layer, tfc.GDN) for layer in transform.layers)
  if len(scales) != gdns:
    raise ValueError(f"{transform.name} has {gdns} GDNs, got {len(scales)} "
                     "scale vectors")
  for layer in transform.layers:
    is_gdn = isinstance(layer, tfc.GDN)
    if is_gdn and not layer.inverse:
      x = scaled(x)
    x = layer(x)
    if is_gdn and layer.inverse:
      x = scaled(x)
  return x
