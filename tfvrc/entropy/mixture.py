"""Discretized mixture likelihoods (Cheng et al. 2020; Fu et al.'s GLLMM) and
their integer range-coding tables.

A mixture's parameters come as `num_params * channels` channels split into
contiguous blocks, as the original's entropy-parameter network emits them:
for each component k its weight logit, mean and scale (|scale|, bounded below
by SCALE_MIN), then, for the Gaussian-Laplacian-Logistic mixture, three family
weight logits. The probability of an integer v is the mixture's mass on
[v - 1/2, v + 1/2].
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

SCALE_MIN = 0.11
LIKELIHOOD_MIN = 1e-9
# Range-coding tables: every symbol gets a frequency of at least 1 out of
# 2^16 (the `range-coder` package needs totals well below 2^25).
PRECISION = 16


def _normal_cdf(x):
  return .5 * tf.math.erfc(-x / math.sqrt(2.))


def _laplace_cdf(x):
  return .5 + .5 * tf.sign(x) * -tf.math.expm1(-tf.abs(x))


def _logistic_cdf(x):
  return tf.sigmoid(x)


CDFS = {"normal": _normal_cdf, "laplace": _laplace_cdf,
        "logistic": _logistic_cdf}
FAMILIES = {"gaussian": ("normal",),
            "gllmm": ("normal", "laplace", "logistic")}
COMPONENTS_PER_FAMILY = 3


def num_params(kind):
  """Channels of parameters per latent channel a mixture takes."""
  families = len(FAMILIES[kind])
  return 3 * COMPONENTS_PER_FAMILY * families + (families if families > 1
                                                 else 0)


def split(params, kind):
  """(logits, means, scales, family logits): [..., C, K] arrays of the K
  components' weight logits, means and raw scales, and for a mixture of
  several families [..., C, families] logits of their weights (else
  None)."""
  families = len(FAMILIES[kind])
  k = COMPONENTS_PER_FAMILY * families
  blocks = tf.split(params, num_params(kind), axis=-1)
  logits, means, scales = (tf.stack(blocks[i:3 * k:3], -1) for i in range(3))
  return (logits, means, scales,
          tf.stack(blocks[3 * k:], -1) if families > 1 else None)


def component_families(kind):
  """The family name of each of the mixture's components."""
  return [f for f in FAMILIES[kind] for _ in range(COMPONENTS_PER_FAMILY)]


def _components(params, kind):
  """(cdfs, means, scales, weights): per component its CDF, and [..., C, K]
  arrays of means, scales and mixture weights (summing to 1 over K)."""
  logits, means, scales, family = split(params, kind)
  scales = tfc.lower_bound(tf.abs(scales), SCALE_MIN)
  if family is None:
    weights = tf.nn.softmax(logits)
  else:  # a softmax within each family, times the family's own weight
    # (on 3-D arrays: oneDNN's softmax, on by default on AVX-512 CPUs,
    # refuses more than 5 dimensions)
    families = family.shape[-1]
    within = tf.nn.softmax(
        tf.reshape(logits, [-1, families, COMPONENTS_PER_FAMILY]))
    outer = tf.reshape(tf.nn.softmax(family), [-1, families, 1])
    weights = tf.reshape(within * outer, tf.shape(means))
  return ([CDFS[f] for f in component_families(kind)], means, scales,
          weights)


def _mixture_cdf(values, components):
  """The mixture's CDF at `values` [..., C, E] (E points per element)."""
  cdfs, means, scales, weights = components
  total = 0.
  for k, cdf in enumerate(cdfs):
    total += weights[..., k:k + 1] * cdf(
        (values - means[..., k:k + 1]) / scales[..., k:k + 1])
  return total


def likelihood(y, params, kind):
  """Probability of each element of y (rounded or noisy) under the mixture:
  the mass of [y - 1/2, y + 1/2], bounded below for a finite rate."""
  components = _components(params, kind)
  edges = y[..., None] + tf.constant([-.5, .5])
  cdf = _mixture_cdf(edges, components)
  return tfc.lower_bound(cdf[..., 1] - cdf[..., 0], LIKELIHOOD_MIN)


def pmf(params, minmax, kind):
  """[..., C, 2 minmax + 1] probabilities of the integers -minmax..minmax."""
  components = _components(params, kind)
  edges = tf.cast(tf.range(-minmax, minmax + 2), tf.float32) - .5
  cdf = _mixture_cdf(edges, components)
  # Rounding can make a float32 CDF step back by an ulp.
  return tf.maximum(cdf[..., 1:] - cdf[..., :-1], 0.)


def quantized_cdfs(probabilities):
  """Integer range-coding tables [rows, L + 1] of pmfs [rows, L] (floats,
  or integer masses as `exact_mixture.pmf` gives): cumulative frequencies
  totalling exactly 2^PRECISION, every symbol at least 1. Integer numpy
  from there on, so both sides build the same tables from the same pmfs;
  integer masses are scaled in integers, so their tables are exact too."""
  probabilities = np.asarray(probabilities)
  rows, symbols = probabilities.shape
  total = 1 << PRECISION
  if symbols > total // 2:
    raise ValueError(f"{symbols} symbols do not fit a {PRECISION}-bit table")
  if np.issubdtype(probabilities.dtype, np.integer):
    masses = np.maximum(probabilities.astype(np.int64), 0)
    masses[masses.sum(axis=1) == 0] = 1  # nothing known: uniform
    freq = masses * (total - symbols) // masses.sum(axis=1,
                                                    keepdims=True) + 1
  else:
    freq = _float_frequencies(probabilities, total)
  freq[np.arange(rows), np.argmax(freq, axis=1)] += total - freq.sum(axis=1)
  return np.concatenate([np.zeros((rows, 1), np.int64),
                         np.cumsum(freq, axis=1)], axis=1)


def _float_frequencies(probabilities, total):
  """Frequencies of float pmfs, each at least 1, summing to at most
  `total`."""
  probabilities = np.nan_to_num(probabilities.astype(np.float64), nan=0.,
                                posinf=0., neginf=0.)
  probabilities = np.maximum(probabilities, 0.)
  symbols = probabilities.shape[1]
  sums = probabilities.sum(axis=1, keepdims=True)
  probabilities = np.where(sums > 0, probabilities / np.where(sums > 0, sums,
                                                              1.),
                           1. / symbols)
  return np.floor(probabilities * (total - symbols)).astype(np.int64) + 1
