"""The Gaussian conditional and the factorized hyper-latent entropy models.

The conditional model codes y given a mean and a scale *index*: the hyper
synthesis predicts a float index into a log-spaced scale table (as in tfc's
bmshj2018 example), and tfc clips it to the table and truncates it to an integer
when range coding. Conditional models take the raw hyper-synthesis output
(`num_params` channels per latent channel) and split it themselves.
"""

import decimal
import functools
import math

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc.entropy import indexed_coding

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


@functools.lru_cache(maxsize=None)
def _index_thresholds():
  """scale_fn(1 .. NUM_SCALES - 1) in exact decimal arithmetic, rounded to
  float64 (correctly, by Python): the same numbers on every machine."""
  with decimal.localcontext(decimal.Context(prec=40)):
    low, high = decimal.Decimal(SCALE_MIN).ln(), decimal.Decimal(SCALE_MAX).ln()
    step = (high - low) / (NUM_SCALES - 1)
    return np.array([float((low + j * step).exp())
                     for j in range(1, NUM_SCALES)])


def exact_scale_index(scale):
  """The table index of `scale` (float32): how many table scales after the
  first are at or below it, which is the integer part of
  `scale_index(max(scale, SCALE_MIN))` computed by comparisons only, so a
  scale computed exactly gets the same index on every machine."""
  thresholds = tf.constant(_index_thresholds())
  values = tf.cast(tf.reshape(scale, [-1]), tf.float64)
  index = tf.searchsorted(thresholds, values, side="right")
  return tf.reshape(tf.cast(index, tf.float32), tf.shape(scale))


class IndexedConditional(indexed_coding.TableCoder, tf.Module):
  """Latent model from the hyper-synthesis output: per element a mean and
  table indexes, which subclasses split from it (`_split`) for their tfc
  `model`. y - mean is rounded and coded."""

  def _split(self, params):
    """(means, indexes as `model` takes them)."""
    raise NotImplementedError

  def __call__(self, y, params, training, rounded=False):
    """(y's reconstruction, bits). In training the reconstruction is y plus
    uniform noise, or with `rounded` the coder's value (y - mean rounded, plus
    the mean) with a straight-through gradient, while the bits stay those of
    the noisy y ("mixed quantization", Minnen & Singh 2020): the synthesis
    then trains on what it decodes."""
    means, indexes = self._split(params)
    residual = y - means
    y_hat, bits = self.model(residual, indexes, training=training)
    if training and rounded:
      y_hat = tfc.round_st(residual)
    return y_hat + means, bits

  def indexes(self, params):
    model = self.model
    return model._flatten_indexes(  # pylint: disable=protected-access
        model._normalize_indexes(self._split(params)[1]))  # pylint: disable=protected-access

  def symbols(self, y, params):
    means, _ = self._split(params)
    return tf.cast(tf.round(y - means), tf.int32), self.indexes(params)

  def values(self, symbols, params):
    return tf.cast(symbols, tf.float32) + self._split(params)[0]


class GaussianConditional(IndexedConditional):
  """Per element a mean and a scale index (Minnen et al. 2018)."""

  num_params = 2

  def __init__(self, compression):
    super().__init__(name="gaussian_conditional")
    self.model = tfc.LocationScaleIndexedEntropyModel(
        tfc.NoisyNormal, NUM_SCALES, scale_fn, coding_rank=3,
        compression=compression, bottleneck_dtype=tf.float32)

  def _split(self, params):
    return tf.split(params, 2, axis=-1)


class FactorizedCoder(indexed_coding.TableCoder, tf.Module):
  """Range coder of a factorized model (the hyper-latent's): each channel
  under its own table. Its `params` are the latent's spatial shape."""

  def __init__(self, model):
    super().__init__(name="factorized_coder")
    self.model = model

  @property
  def quantization_offset(self):
    """What the symbols are rounded around (tfc's None: zero)."""
    offset = self.model.quantization_offset
    return 0. if offset is None else offset

  def indexes(self, params):
    shape = tf.concat([[1], params, self.model.prior_shape_tensor], 0)
    return indexed_coding.channel_indexes(shape)

  def symbols(self, y, params=None):
    del params
    symbols = tf.cast(tf.round(y - self.quantization_offset), tf.int32)
    return symbols, indexed_coding.channel_indexes(tf.shape(y))

  def values(self, symbols, params=None):
    del params
    return tf.cast(symbols, tf.float32) + self.quantization_offset


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
  return FactorizedCoder(tfc.ContinuousBatchedEntropyModel(
      prior_shape=prior.batch_shape, coding_rank=3, compression=True,
      cdf=tables["cdf"], cdf_offset=tables["cdf_offset"],
      quantization_offset=tables["quantization_offset"],
      bottleneck_dtype=tf.float32))


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
  model = coder.model
  offset = model.quantization_offset
  return dict(cdf=model.cdf.numpy(), cdf_offset=model.cdf_offset.numpy(),
              quantization_offset=(np.zeros(model.prior_shape, np.float32)
                                   if offset is None else
                                   np.asarray(offset, np.float32)))
