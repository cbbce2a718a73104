"""The discretized mixture's pmf (`mixture`) computed on integers from
fixed-point parameters: the same range-coding tables on every machine.

The parameters arrive as integers in units of 2^-fraction_bits, from the
fixed-point entropy-parameter network (`layers.fixed_point`). Everything
after that is int64 arithmetic on tables built once in exact decimal
arithmetic, so no float rounding, library or instruction set enters:

- each component's CDF at the bin edges comes from a table of the
  standardized CDF (normal, Laplace or logistic) at CDF_GRID points per unit
  over +-CDF_SPAN, in units of 2^-CDF_BITS, interpolated linearly between
  points with an integer division by the scale (t = (edge - mean) / scale);
- the mixture weights are a softmax from a table of exp(-d) in units of
  2^-WEIGHT_BITS at EXP_GRID points per unit of d = max logit - logit;
- the masses are the mixture CDF's differences: non-negative integers, which
  `mixture.quantized_cdfs` turns into frequencies in integers.

The tables are close to the float model (interpolation error below 2e-6 of
probability, under the coder's 2^-16 resolution); `experiments/reliability/`
measures the rate it costs.
"""

import decimal
import functools
import math

import numpy as np
import tensorflow as tf

from tfvrc.entropy import mixture

CDF_BITS = 24
CDF_GRID = 128    # table points per unit of the standardized variable
CDF_SPAN = 16     # the tables cover |t| <= 16; beyond, the CDF is 0 or 1
WEIGHT_BITS = 16
EXP_GRID_BITS = 8  # 2^8 table points per unit of a logit difference
EXP_GRID = 2 ** EXP_GRID_BITS
EXP_SPAN = 16     # weights below exp(-16) of the largest count as exp(-16)
# Beyond |t| = 6.5 the normal CDF is within 2^-CDF_BITS / 1000 of 0 or 1.
_NORMAL_SPAN = decimal.Decimal("6.5")
_PI = decimal.Decimal("3.14159265358979323846264338327950288419716939937510")
_CONTEXT = decimal.Context(prec=50)


def _normal(t):
  """Phi(t) by the series erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) /
  (2n+1)!!, whose terms are all positive (no cancellation)."""
  if abs(t) > _NORMAL_SPAN:
    return decimal.Decimal(int(t > 0))
  x = abs(t) / _CONTEXT.sqrt(2)
  square = x * x
  term = total = x
  n = 0
  while term > decimal.Decimal("1e-45"):
    n += 1
    term = term * 2 * square / (2 * n + 1)
    total += term
  erf = 2 * total * (-square).exp(_CONTEXT) / _CONTEXT.sqrt(_PI)
  return (1 + erf) / 2 if t >= 0 else (1 - erf) / 2


def _laplace(t):
  tail = (-abs(t)).exp(_CONTEXT) / 2
  return 1 - tail if t >= 0 else tail


def _logistic(t):
  return 1 / (1 + (-t).exp(_CONTEXT))


_DECIMAL_CDFS = {"normal": _normal, "laplace": _laplace,
                 "logistic": _logistic}


def _rounded(values, bits):
  """round(2^bits * v) of decimal values, half to even, as int64."""
  scale = decimal.Decimal(2 ** bits)
  return np.array([int((scale * v).to_integral_value(decimal.ROUND_HALF_EVEN))
                   for v in values], np.int64)


@functools.lru_cache(maxsize=None)
def cdf_table(family):
  """round(2^CDF_BITS F(t)) at t = -CDF_SPAN .. CDF_SPAN in steps of
  1 / CDF_GRID, F the family's standardized CDF."""
  with decimal.localcontext(_CONTEXT):
    steps = CDF_SPAN * CDF_GRID
    points = (decimal.Decimal(j) / CDF_GRID for j in range(-steps, steps + 1))
    return _rounded([_DECIMAL_CDFS[family](t) for t in points], CDF_BITS)


@functools.lru_cache(maxsize=None)
def exp_table():
  """round(2^WEIGHT_BITS exp(-d)) at d = 0 .. EXP_SPAN in steps of
  1 / EXP_GRID."""
  with decimal.localcontext(_CONTEXT):
    return _rounded([(decimal.Decimal(-j) / EXP_GRID).exp()
                     for j in range(EXP_SPAN * EXP_GRID + 1)], WEIGHT_BITS)


def _interpolated(table, numerator, denominator):
  """table at numerator / denominator (integers >= 0, the point within the
  table), linearly interpolated in integers."""
  index = numerator // denominator
  remainder = numerator - index * denominator
  low = tf.gather(table, index)
  high = tf.gather(table, tf.minimum(index + 1, table.shape[0] - 1))
  return low + (high - low) * remainder // denominator


def _softmax(logits, fraction_bits):
  """Integer weights over the last axis, at most 2^WEIGHT_BITS in sum
  (fraction_bits >= EXP_GRID_BITS)."""
  table = tf.constant(exp_table())
  difference = tf.minimum(tf.reduce_max(logits, -1, keepdims=True) - logits,
                          EXP_SPAN * 2 ** fraction_bits)
  counts = _interpolated(table, difference,
                         2 ** (fraction_bits - EXP_GRID_BITS))
  return counts * 2 ** WEIGHT_BITS // tf.reduce_sum(counts, -1,
                                                    keepdims=True)


def _weights(logits, family_logits, fraction_bits):
  """[..., C, K] integer mixture weights (in units of 2^-WEIGHT_BITS)."""
  if family_logits is None:
    return _softmax(logits, fraction_bits)
  shape = tf.concat([tf.shape(logits)[:-1], [family_logits.shape[-1],
                                             mixture.COMPONENTS_PER_FAMILY]],
                    0)
  within = _softmax(tf.reshape(logits, shape), fraction_bits)
  family = _softmax(family_logits, fraction_bits)[..., None]
  return tf.reshape(within * family // 2 ** WEIGHT_BITS, tf.shape(logits))


def _component_cdf(table, edges, mean, scale):
  """The component's CDF at `edges` [E] (units), in units of 2^-CDF_BITS:
  the table at t = (edge - mean) / scale, linearly interpolated, all in
  integers. Non-decreasing in the edge."""
  span = CDF_SPAN * CDF_GRID
  # t + CDF_SPAN in table steps: a fraction numerator / scale.
  numerator = (edges - mean) * CDF_GRID + span * scale
  last = table.shape[0] - 1
  inside = _interpolated(
      table, tf.clip_by_value(numerator, 0, last * scale), scale)
  zero, one = (tf.constant(v, tf.int64) for v in (0, 2 ** CDF_BITS))
  return tf.where(numerator < 0, zero,
                  tf.where(numerator > last * scale, one, inside))


def pmf(params, minmax, kind, fraction_bits):
  """[..., C, 2 minmax + 1] int64 masses of the integers -minmax..minmax
  under the mixture whose parameters `params` [..., num_params * C] are
  integers in units of 2^-fraction_bits (any integer or float dtype holding
  integers)."""
  params = tf.cast(params, tf.int64)
  logits, means, scales, family_logits = mixture.split(params, kind)
  scale_min = math.ceil(mixture.SCALE_MIN * 2 ** fraction_bits)
  scales = tf.maximum(tf.abs(scales), scale_min)
  weights = _weights(logits, family_logits, fraction_bits)
  # Bin edges v - 1/2 for v = -minmax .. minmax + 1, in units.
  edges = ((2 * tf.range(-tf.cast(minmax, tf.int64),
                         tf.cast(minmax, tf.int64) + 2) - 1)
           * 2 ** (fraction_bits - 1))
  total = 0
  for k, family in enumerate(mixture.component_families(kind)):
    cdf = _component_cdf(tf.constant(cdf_table(family)), edges,
                         means[..., k:k + 1], scales[..., k:k + 1])
    total += weights[..., k:k + 1] * cdf
  return total[..., 1:] - total[..., :-1]
