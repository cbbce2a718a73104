"""A trained hyper-synthesis evaluated in integers: the same entropy tables on
every machine.

Range decoding works only if the decoder picks the very table the encoder
picked for every symbol. The tables are chosen from the hyper-synthesis
output, and float convolutions differ in their last bits between thread
counts, oneDNN on or off, and CPU types; a last bit can move an index
(issue 15: a file written with oneDNN failed to decode without it). Integer
networks (Ballé, Johnston and Minnen, ICLR 2019) remove the cause: the
network computes exactly, so every machine gets the same integers.

Both classes here quantize a trained network after training: weights to
15-bit integers (one power-of-two scale per convolution), biases and
activations to fixed point with `FRACTION_BITS` fractional bits, rounding
done on integers, activations saturated at +-2^`ACTIVATION_BITS`. The
integers are carried in float64 tensors, so TensorFlow's (Eigen's) double
convolutions run them: every product and partial sum is an integer below
2^53, which float64 represents exactly, so the result does not depend on the
order or grouping of the additions. Values cross the class boundary as
float32 multiples of 2^-FRACTION_BITS below 2^24 in units, which float32
holds exactly. `FixedPointSynthesis` runs the hyperprior families'
upsampling `SignalConv2D` stacks (leaky ReLU on integers);
`FixedPointRecurrentStack` the scalable RNN's hyper-synthesis, a stack of
"same" convolutions, ConvLSTM cells (sigmoid and tanh from integer tables)
and depth-to-space steps. `experiments/reliability/` measures the cost.
"""

import math

import numpy as np
import tensorflow as tf

from tfvrc.layers import recurrent
from tfvrc.layers import signal_conv
from tfvrc.layers import transforms

FRACTION_BITS = 12    # activations and outputs are multiples of 2^-12
ACTIVATION_BITS = 24  # |activation| < 2^24 units: +-4096 as a real number
WEIGHT_BITS = 15      # |integer weight| < 2^15
SLOPE_BITS = 20       # the leaky ReLU's slope as an integer over 2^20
EXACT_BITS = 53       # float64 holds every integer below 2^53
TABLE_RANGE = 8       # sigmoid and tanh tables cover |x| <= 8 (saturated)


def _round(x):
  """Rounds half up: floor(x + 1/2), exact on float64 multiples of 2^-k."""
  return tf.floor(x + 0.5)


def saturate(units):
  limit = 2. ** ACTIVATION_BITS - 1
  return tf.clip_by_value(units, -limit, limit)


def to_units(x):
  """float32 values to saturated fixed-point units (float64 integers)."""
  return saturate(_round(tf.cast(x, tf.float64) * 2. ** FRACTION_BITS))


def to_float32(units):
  return tf.cast(units * 2. ** -FRACTION_BITS, tf.float32)


def _activation(layer):
  """The layer's activation function, None for none (Keras' "linear")."""
  activation = layer.activation
  return None if activation is tf.keras.activations.linear else activation


class _IntegerWeights:
  """A convolution's kernel as integers below 2^WEIGHT_BITS (scaled by the
  largest power of two that allows) and its bias in the accumulator's
  units; `rescaled(total)` brings a sum of products back to units."""

  def __init__(self, layer, taps):
    if ACTIVATION_BITS + WEIGHT_BITS + math.log2(taps) + 1 > EXACT_BITS:
      raise ValueError(f"{layer.name}: {taps} taps per output are too many "
                       "for exact float64 sums")
    kernel = np.asarray(layer.kernel, np.float64)
    self.shift = math.floor(math.log2(
        (2 ** WEIGHT_BITS - 1) / (float(np.max(np.abs(kernel))) or 1.)))
    self.kernel = tf.constant(np.round(np.ldexp(kernel, self.shift)))
    bias = (np.asarray(layer.bias, np.float64) if layer.use_bias else
            np.zeros(kernel.shape[-1]))
    self.bias = tf.constant(np.round(np.ldexp(bias,
                                              FRACTION_BITS + self.shift)))

  def rescaled(self, total):
    return _round((total + self.bias) * 2. ** -self.shift)


class FixedPointLayer:
  """One upsampling `SignalConv2D` (and its leaky ReLU) on units."""

  def __init__(self, layer):
    if (layer.corr or layer.padding != "same_zeros"
        or any(s != 1 for s in layer.strides_down)
        or layer.strides_up[0] != layer.strides_up[1]
        or _activation(layer) not in (None, transforms.leaky_relu)):
      raise ValueError(f"{layer.name}: only same_zeros upsampling "
                       "convolutions with a leaky ReLU or no activation "
                       "have a fixed-point version")
    self.stride = layer.strides_up[0]
    height, width, channels = layer.kernel.shape[:3]
    self.weights = _IntegerWeights(layer, math.ceil(height / self.stride)
                                   * math.ceil(width / self.stride) * channels)
    self.leaky = _activation(layer) is not None

  def __call__(self, units):
    """Fixed-point activations (float64 integers) in, the layer's out."""
    units = self.weights.rescaled(signal_conv.subpixel_up_convolve(
        units, self.weights.kernel, self.stride))
    if self.leaky:
      slope = round(transforms.LEAKY_RELU_SLOPE * 2 ** SLOPE_BITS)
      units = tf.where(units < 0, _round(units * (slope * 2. ** -SLOPE_BITS)),
                       units)
    return saturate(units)


class FixedPointSynthesis:
  """A trained hyper-synthesis (a Sequential of `SignalConv2D`), exact.

  Called on float32 z_hat, returns float32 outputs, which are multiples of
  2^-FRACTION_BITS computed in integers from z_hat's exact value.
  """

  def __init__(self, synthesis):
    self.layers = [FixedPointLayer(layer) for layer in synthesis.layers]

  def __call__(self, z_hat):
    units = to_units(z_hat)
    for layer in self.layers:
      units = layer(units)
    return to_float32(units)


class _IntegerConv:
  """A "same" stride-1 Keras convolution without activation on units."""

  def __init__(self, layer):
    height, width, channels = layer.kernel.shape[:3]
    if (layer.padding != "same" or tuple(layer.strides) != (1, 1)
        or tuple(layer.dilation_rate) != (1, 1) or height % 2 == 0
        or width % 2 == 0 or _activation(layer) is not None):
      raise ValueError(f"{layer.name}: only odd-sized stride-1 'same' "
                       "convolutions without activation have a fixed-point "
                       "version")
    self.weights = _IntegerWeights(layer, height * width * channels)

  def __call__(self, units):
    return saturate(self.weights.rescaled(
        tf.nn.conv2d(units, self.weights.kernel, 1, "SAME")))


def _function_table(function):
  """function(x) in units for every x in units over +-TABLE_RANGE (float64
  math, then rounded: the same integers wherever the C library gets the
  last bits the same; tests/test_fixed_point.py checks them against exact
  decimal arithmetic)."""
  steps = TABLE_RANGE * 2 ** FRACTION_BITS
  x = np.arange(-steps, steps + 1) * 2. ** -FRACTION_BITS
  return np.round(function(x) * 2. ** FRACTION_BITS)


def sigmoid_table():
  return _function_table(lambda x: 1. / (1. + np.exp(-x)))


def tanh_table():
  return _function_table(np.tanh)


def _lookup(table, units):
  """table[units], units saturated to the table's range."""
  steps = TABLE_RANGE * 2 ** FRACTION_BITS
  index = tf.cast(tf.clip_by_value(units, -steps, steps) + steps, tf.int32)
  return tf.gather(table, index)


def _product(a, b):
  """The product of two values in units, rounded to units."""
  return _round(a * b * 2. ** -FRACTION_BITS)


class _IntegerConvLSTM:
  """A stride-1 `recurrent.ConvLSTM` on units."""

  def __init__(self, cell, sigmoid, tanh):
    self.input_conv = _IntegerConv(cell.input_conv)
    self.hidden_conv = _IntegerConv(cell.hidden_conv)
    self.sigmoid, self.tanh = sigmoid, tanh

  def __call__(self, units, state):
    h, c = state
    i, f, o, g = tf.split(
        saturate(self.input_conv(units) + self.hidden_conv(h)), 4, axis=-1)
    c = saturate(_product(_lookup(self.sigmoid, f), c)
                 + _product(_lookup(self.sigmoid, i), _lookup(self.tanh, g)))
    h = _product(_lookup(self.sigmoid, o), _lookup(self.tanh, c))
    return h, (h, c)


def _depth_to_space(units):
  return tf.nn.depth_to_space(units, 2)


class FixedPointRecurrentStack:
  """A trained `recurrent.RecurrentStack` of "same" convolutions without
  activation, stride-1 ConvLSTMs and depth-to-space steps, exact.

  Called like the stack, on float32 input and states, it returns a float32
  output and states that are exact multiples of 2^-FRACTION_BITS, so a
  caller carries the states between calls as it does the float stack's.
  """

  def __init__(self, stack):
    sigmoid, tanh = (tf.constant(t) for t in (sigmoid_table(), tanh_table()))
    self.steps = []
    for step in stack.steps:
      if isinstance(step, recurrent.ConvLSTM):
        self.steps.append(_IntegerConvLSTM(step, sigmoid, tanh))
      elif isinstance(step, recurrent.DepthToSpace):  # not the Keras layer:
        self.steps.append(_depth_to_space)  # it would cast to float32
      else:
        self.steps.append(_IntegerConv(step))

  def __call__(self, x, states):
    units = to_units(x)
    states = iter(states)
    new_states = []
    for step in self.steps:
      if isinstance(step, _IntegerConvLSTM):
        units, state = step(units, tuple(to_units(s) for s in next(states)))
        new_states.append(tuple(to_float32(s) for s in state))
      else:
        units = step(units)
    return to_float32(units), tuple(new_states)
