"""The Gaussian conditional and the factorized hyper-latent entropy models.

The conditional model codes y given a mean and a scale *index*: the hyper
synthesis predicts a float index into a log-spaced scale table (as in tfc's
bmshj2018 example), and tfc clips it to the table and truncates it to an integer
when range coding. Conditional models take the raw hyper-synthesis output
(`num_params` channels per latent channel) and split it themselves.
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc.entropy import bounded_decoding

SCALE_MIN = 0.11
SCALE_MAX = 256.
NUM_SCALES = 64


_LOG_STEP = (math.log(SCALE_MAX) - math.log(SCALE_MIN)) / (NUM_SCALES - 1)


def scale_fn(index):
  """Maps a (float) scale index in [0, NUM_SCALES - 1] to a Gaussian scale."""
  return tf.math.exp(math.log(SCALE_MIN) + _LOG_STEP * index)


def scale_index(scale):
  """The inverse of `scale_fn`: the float index of a scale."""
  return (tf.math.log(scale) - math.log(SCALE_MIN)) / _LOG_STEP


class GaussianConditional(tf.Module):
  """Latent model from the hyper-synthesis output: per element a mean and a
  scale index (Minnen et al. 2018). y is rounded around the mean and coded."""

  num_params = 2

  def __init__(self, compression):
    super().__init__(name="gaussian_conditional")
    self.model = tfc.LocationScaleIndexedEntropyModel(
        tfc.NoisyNormal, NUM_SCALES, scale_fn, coding_rank=3,
        compression=compression, bottleneck_dtype=tf.float32)

  def __call__(self, y, params, training):
    means, indexes = tf.split(params, 2, axis=-1)
    return self.model(y, indexes, loc=means, training=training)

  def compress(self, y, params):
    means, indexes = tf.split(params, 2, axis=-1)
    return self.model.compress(y, indexes, loc=means)

  def decompress(self, strings, params):
    means, indexes = tf.split(params, 2, axis=-1)
    return bounded_decoding.decode_indexed(self.model, strings, indexes) + means

  def quantize(self, y, params):
    """What `decompress(compress(y, params), params)` returns."""
    means, _ = tf.split(params, 2, axis=-1)
    return self.model.quantize(y, loc=means)


def factorized_model(prior, quantization_offset=None):
  """Factorized model of the hyper-latent for training and bit estimates.

  Pass the coder's `quantization_offset` to quantize exactly as it does.
  """
  return tfc.ContinuousBatchedEntropyModel(
      prior, coding_rank=3, compression=False,
      quantization_offset=quantization_offset, bottleneck_dtype=tf.float32)


def factorized_coder(prior, tables=None):
  """Range coder of the hyper-latent.

  Building its tables searches the prior's tails, so published models store
  them: `tables` is what `factorized_tables` returned for the same weights.
  Without them, the search runs as one graph (tfc runs its loop eagerly, op
  by op: 10x slower, same tables).
  """
  if tables is None:
    tables = _search_tables(prior)
  return tfc.ContinuousBatchedEntropyModel(
      prior_shape=prior.batch_shape, coding_rank=3, compression=True,
      cdf=tables["cdf"], cdf_offset=tables["cdf_offset"],
      quantization_offset=tables["quantization_offset"],
      bottleneck_dtype=tf.float32)


def _search_tables(prior):
  """tfc's table search for `prior`, traced: the arrays `factorized_coder`
  takes."""
  @tf.function
  def search():
    coder = tfc.ContinuousBatchedEntropyModel(
        prior, coding_rank=3, compression=True, stateless=True,
        bottleneck_dtype=tf.float32)
    return coder.cdf, coder.cdf_offset, coder.quantization_offset
  cdf, cdf_offset, offset = search()
  return dict(cdf=cdf, cdf_offset=cdf_offset, quantization_offset=offset)


def factorized_tables(coder):
  """The arrays `factorized_coder` needs to rebuild `coder` without a search."""
  offset = coder.quantization_offset
  return dict(cdf=coder.cdf.numpy(), cdf_offset=coder.cdf_offset.numpy(),
              quantization_offset=(np.zeros(coder.prior_shape, np.float32)
                                   if offset is None else
                                   np.asarray(offset, np.float32)))
