"""The Gaussian conditional and the factorized hyper-latent entropy models.

The conditional model codes y given a mean and a scale *index*: the hyper
synthesis predicts a float index into a log-spaced scale table (as in tfc's
bmshj2018 example), and tfc clips it to the table and truncates it to an integer
when range coding.
"""

import math

import tensorflow as tf
import tensorflow_compression as tfc

SCALE_MIN = 0.11
SCALE_MAX = 256.
NUM_SCALES = 64


def scale_fn(index):
  """Maps a (float) scale index in [0, NUM_SCALES - 1] to a Gaussian scale."""
  offset = math.log(SCALE_MIN)
  factor = (math.log(SCALE_MAX) - math.log(SCALE_MIN)) / (NUM_SCALES - 1)
  return tf.math.exp(offset + factor * index)


def conditional_model(compression):
  """Mean-scale Gaussian model for the latent, coding rank 3 (per image)."""
  return tfc.LocationScaleIndexedEntropyModel(
      tfc.NoisyNormal, NUM_SCALES, scale_fn, coding_rank=3,
      compression=compression)


def factorized_model(prior, compression):
  """Factorized model for the hyper-latent, over a `NoisyDeepFactorized` prior."""
  return tfc.ContinuousBatchedEntropyModel(
      prior, coding_rank=3, compression=compression)
