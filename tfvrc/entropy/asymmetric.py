"""The asymmetric Gaussian prior of Cui et al. (CVPR 2021).

A split normal: left of the mean it is a Gaussian of scale s_l, right of it one
of scale s_r, each scaled by 2 s / (s_l + s_r) so the density integrates to one
and the CDF is continuous at the mean (value s_l / (s_l + s_r)):

  pdf(x) = sqrt(2 / pi) / (s_l + s_r) * exp(-(x - mu)^2 / (2 s^2)),
  s = s_l for x < mu, s_r otherwise.

For range coding, tfc's `ContinuousIndexedEntropyModel` indexes a 2-D table of
(left, right) scales from the same log-spaced scale table as the Gaussian.
"""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc
import tensorflow_probability as tfp

from tfvrc.entropy import gaussian

_HALF_LOG_2_OVER_PI = 0.5 * np.log(2. / np.pi)


def _standard():
  """The standard normal (accurate cdf and log-cdf tails). Built per call:
  a module-level tensor would initialise TensorFlow at import, before a
  trainer can configure devices and collectives."""
  return tfp.distributions.Normal(0., 1.)


class AsymmetricNormal(tfp.distributions.Distribution):
  """Split normal with location `loc` and scales `scale_left`, `scale_right`."""

  def __init__(self, loc, scale_left, scale_right, validate_args=False,
               allow_nan_stats=True, name="AsymmetricNormal"):
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._loc = tf.convert_to_tensor(loc, tf.float32)
      self._scale_left = tf.convert_to_tensor(scale_left, tf.float32)
      self._scale_right = tf.convert_to_tensor(scale_right, tf.float32)
      super().__init__(
          dtype=tf.float32,
          reparameterization_type=tfp.distributions.FULLY_REPARAMETERIZED,
          validate_args=validate_args, allow_nan_stats=allow_nan_stats,
          parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype=tf.float32, num_classes=None):
    positive = tfp.util.ParameterProperties(
        default_constraining_bijector_fn=tfp.bijectors.Softplus)
    return dict(loc=tfp.util.ParameterProperties(), scale_left=positive,
                scale_right=positive)

  def _batch_shape_tensor(self):
    return tf.broadcast_dynamic_shape(
        tf.shape(self._loc), tf.broadcast_dynamic_shape(
            tf.shape(self._scale_left), tf.shape(self._scale_right)))

  def _batch_shape(self):
    return tf.broadcast_static_shape(
        self._loc.shape, tf.broadcast_static_shape(
            self._scale_left.shape, self._scale_right.shape))

  def _event_shape(self):
    return tf.TensorShape([])

  def _sides(self, x):
    """Whether x is left of the mean; its standardised distance on each side
    (0 on the other side, so neither `tf.where` branch can produce a NaN
    whose gradient would leak); and each side's weight 2 s / (s_l + s_r)."""
    left = x < self._loc
    z_left = tf.where(left, (x - self._loc) / self._scale_left, 0.)
    z_right = tf.where(left, 0., (x - self._loc) / self._scale_right)
    total = self._scale_left + self._scale_right
    return (left, z_left, z_right, 2. * self._scale_left / total,
            2. * self._scale_right / total)

  def _log_prob(self, x):
    left, z_left, z_right, _, _ = self._sides(x)
    z = tf.where(left, z_left, z_right)
    return (_HALF_LOG_2_OVER_PI
            - tf.math.log(self._scale_left + self._scale_right) - 0.5 * z ** 2)

  def _cdf(self, x):
    left, z_left, z_right, w_left, w_right = self._sides(x)
    return tf.where(left, w_left * _standard().cdf(z_left),
                    1. - w_right * _standard().cdf(-z_right))

  def _survival_function(self, x):
    left, z_left, z_right, w_left, w_right = self._sides(x)
    return tf.where(left, 1. - w_left * _standard().cdf(z_left),
                    w_right * _standard().cdf(-z_right))

  def _log_cdf(self, x):
    left, z_left, z_right, w_left, w_right = self._sides(x)
    return tf.where(left, tf.math.log(w_left) + _standard().log_cdf(z_left),
                    tf.math.log1p(-w_right * _standard().cdf(-z_right)))

  def _log_survival_function(self, x):
    left, z_left, z_right, w_left, w_right = self._sides(x)
    return tf.where(left, tf.math.log1p(-w_left * _standard().cdf(z_left)),
                    tf.math.log(w_right) + _standard().log_cdf(-z_right))

  def _quantile(self, p):
    total = self._scale_left + self._scale_right
    at_mean = self._scale_left / total
    left = self._loc + self._scale_left * _standard().quantile(
        tf.minimum(p, at_mean) * total / (2. * self._scale_left))
    right = self._loc - self._scale_right * _standard().quantile(
        tf.minimum(1. - p, 1. - at_mean) * total / (2. * self._scale_right))
    return tf.where(p < at_mean, left, right)

  def _mode(self):
    return self._loc + tf.zeros_like(self._scale_left)


def noisy_asymmetric_normal(loc, scale_left, scale_right):
  """The prior convolved with unit uniform noise (training and coding)."""
  return tfc.UniformNoiseAdapter(
      AsymmetricNormal(loc, scale_left, scale_right))


class AsymmetricConditional(gaussian.IndexedConditional):
  """Per element a mean and two scale indexes (left, right)."""

  num_params = 3

  def __init__(self, compression):
    super().__init__(name="asymmetric_conditional")
    self.model = tfc.ContinuousIndexedEntropyModel(
        noisy_asymmetric_normal,
        (gaussian.NUM_SCALES, gaussian.NUM_SCALES),
        dict(loc=lambda i: tf.zeros_like(i[..., 0]),
             scale_left=lambda i: gaussian.scale_fn(i[..., 0]),
             scale_right=lambda i: gaussian.scale_fn(i[..., 1])),
        coding_rank=3, compression=compression, bottleneck_dtype=tf.float32)

  def _split(self, params):
    means, left, right = tf.split(params, 3, axis=-1)
    return means, tf.stack([left, right], axis=-1)
