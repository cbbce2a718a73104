"""A trained hyper-synthesis evaluated in integers: the same entropy tables on
every machine.

Range decoding works only if the decoder picks the very table the encoder
picked for every symbol. The tables are chosen from the hyper-synthesis
output, and float convolutions differ in their last bits between thread
counts, oneDNN on or off, and CPU types; a last bit can move an index
(issue 15: a file written with oneDNN failed to decode without it). Integer
networks (Ballé, Johnston and Minnen, ICLR 2019) remove the cause: the
network computes exactly, so every machine gets the same integers.

`FixedPointSynthesis` quantizes a trained stack of upsampling `SignalConv2D`
layers after training: weights to 15-bit integers (one power-of-two scale
per layer), biases and activations to fixed point with `FRACTION_BITS`
fractional bits, rounding and the leaky ReLU done on integers, activations
saturated at +-2^`ACTIVATION_BITS`. The integers are carried in float64
tensors, so TensorFlow's (Eigen's) double convolutions run them: every
product and partial sum is an integer below 2^53, which float64 represents
exactly, so the result does not depend on the order or grouping of the
additions. `experiments/reliability/` measures what it costs in rate.
"""

import math

import numpy as np
import tensorflow as tf

from tfvrc.layers import signal_conv
from tfvrc.layers import transforms

FRACTION_BITS = 12    # activations and outputs are multiples of 2^-12
ACTIVATION_BITS = 24  # |activation| < 2^24 units: +-4096 as a real number
WEIGHT_BITS = 15      # |integer weight| < 2^15
SLOPE_BITS = 20       # the leaky ReLU's slope as an integer over 2^20
EXACT_BITS = 53       # float64 holds every integer below 2^53


def _round(x):
  """Rounds half up: floor(x + 1/2), exact on float64 multiples of 2^-k."""
  return tf.floor(x + 0.5)


def _activation(layer):
  """The layer's activation function, None for none (Keras' "linear")."""
  activation = layer.activation
  return None if activation is tf.keras.activations.linear else activation


class FixedPointLayer:
  """One upsampling convolution (and its leaky ReLU) on integers."""

  def __init__(self, layer):
    if (layer.corr or layer.padding != "same_zeros"
        or any(s != 1 for s in layer.strides_down)
        or layer.strides_up[0] != layer.strides_up[1]
        or _activation(layer) not in (None, transforms.leaky_relu)):
      raise ValueError(f"{layer.name}: only same_zeros upsampling "
                       "convolutions with a leaky ReLU or no activation "
                       "have a fixed-point version")
    kernel = np.asarray(layer.kernel, np.float64)
    taps = math.ceil(kernel.shape[0] / layer.strides_up[0]) * math.ceil(
        kernel.shape[1] / layer.strides_up[1]) * kernel.shape[2]
    if ACTIVATION_BITS + WEIGHT_BITS + math.log2(taps) + 1 > EXACT_BITS:
      raise ValueError(f"{layer.name}: {taps} taps per output are too many "
                       "for exact float64 sums")
    largest = float(np.max(np.abs(kernel))) or 1.
    # The largest power of two that keeps every weight below 2^WEIGHT_BITS.
    self.weight_shift = math.floor(math.log2((2 ** WEIGHT_BITS - 1) /
                                             largest))
    self.kernel = tf.constant(np.round(np.ldexp(kernel, self.weight_shift)))
    bias = (np.asarray(layer.bias, np.float64) if layer.use_bias else
            np.zeros(kernel.shape[-1]))
    self.bias = tf.constant(np.round(np.ldexp(
        bias, FRACTION_BITS + self.weight_shift)))
    self.stride = layer.strides_up[0]
    self.leaky = _activation(layer) is not None

  def __call__(self, units):
    """Fixed-point activations (float64 integers) in, the layer's out."""
    total = signal_conv.subpixel_up_convolve(units, self.kernel, self.stride)
    units = _round((total + self.bias) * 2. ** -self.weight_shift)
    if self.leaky:
      slope = round(transforms.LEAKY_RELU_SLOPE * 2 ** SLOPE_BITS)
      units = tf.where(units < 0, _round(units * (slope * 2. ** -SLOPE_BITS)),
                       units)
    return saturate(units)


def saturate(units):
  limit = 2. ** ACTIVATION_BITS - 1
  return tf.clip_by_value(units, -limit, limit)


class FixedPointSynthesis:
  """A trained hyper-synthesis (a Sequential of `SignalConv2D`), exact.

  Called on float32 z_hat, returns float32 outputs, which are multiples of
  2^-FRACTION_BITS computed in integers from z_hat's exact value.
  """

  def __init__(self, synthesis):
    self.layers = [FixedPointLayer(layer) for layer in synthesis.layers]

  def __call__(self, z_hat):
    units = saturate(_round(tf.cast(z_hat, tf.float64) * 2. ** FRACTION_BITS))
    for layer in self.layers:
      units = layer(units)
    return tf.cast(units * 2. ** -FRACTION_BITS, tf.float32)
