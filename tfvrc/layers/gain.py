"""Gain units (Cui et al., CVPR 2021, "Asymmetric Gained VAE").

A gain unit holds one positive channel-scaling vector per rate level (an
[L, C] matrix, initialised to ones, used through `abs`). A continuous rate
r in [0, L - 1] interpolates exponentially between the two levels around it:
with s = floor(r) and l = r - s, gain = |G_s|^(1 - l) * |G_{s+1}|^l, which is
exactly level s (or s + 1) at integer r. Larger r is the higher level.
"""

import numpy as np
import tensorflow as tf

# Keeps the exponential interpolation finite if a learned gain reaches zero.
MIN_GAIN = 1e-6


def interpolate_levels(levels, rate):
  """Rows of the positive [L, ...] table `levels` at rates [batch] in
  [0, L - 1]: row_s^(1 - l) * row_{s+1}^l, exactly row s at integer s."""
  count = levels.shape[0]
  rate = tf.clip_by_value(tf.cast(rate, tf.float32), 0., count - 1.)
  lower = tf.minimum(tf.floor(rate), count - 2.)
  weight = tf.reshape(rate - lower, [-1] + [1] * (levels.shape.rank - 1))
  index = tf.cast(lower, tf.int32)
  return (tf.gather(levels, index) ** (1. - weight)
          * tf.gather(levels, index + 1) ** weight)


def lambda_log_gain(lmbda, reference_lmbda):
  """log of the latent gain that moves a model trained at `reference_lmbda`
  to `lmbda`: 0.5 * log(lambda / reference), since at high rate the best
  quantization step of bpp + lambda * MSE shrinks as lambda^(-1/2)."""
  return 0.5 * np.log(np.asarray(lmbda, np.float64) / reference_lmbda)


def geometric_mean(values):
  return float(np.exp(np.mean(np.log(values))))


class GainUnit(tf.keras.layers.Layer):
  """Scales NHWC features channel-wise by the gain vector of each sample's rate.

  Always float32: it stands beside the quantizer, where the latent is float32
  under any policy.
  """

  def __init__(self, num_levels, channels, name=None):
    super().__init__(name=name, dtype="float32")
    if num_levels < 2:
      raise ValueError(f"a gain unit needs at least 2 levels, got {num_levels}")
    self.num_levels = num_levels
    self.gains = self.add_weight(name="gains", shape=(num_levels, channels),
                                 initializer="ones")

  def set_lambda_gains(self, lmbdas, reference_lmbda, inverse=False):
    """Every channel of level s at exp(lambda_log_gain(lmbdas[s])), or its
    reciprocal for the `inverse` unit."""
    log_gains = lambda_log_gain(lmbdas, reference_lmbda)
    gains = np.exp(-log_gains if inverse else log_gains)[:, None]
    self.gains.assign(np.broadcast_to(gains, self.gains.shape))

  def vectors(self, rate):
    """Gain vectors [batch, C] for rates [batch] in [0, num_levels - 1]."""
    return interpolate_levels(tf.maximum(tf.abs(self.gains), MIN_GAIN), rate)

  def call(self, x, rate):
    return x * self.vectors(rate)[:, None, None, :]
