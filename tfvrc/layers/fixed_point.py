"""Trained networks that pick entropy tables, evaluated in integers: the same
tables on every machine.

Range decoding works only if the decoder picks the very table the encoder
picked for every symbol. The tables are chosen from network outputs (the
hyper-synthesis, and the MSRB codec's context model), and float
convolutions differ in their last bits between thread counts, oneDNN on or
off, and CPU types; a last bit can move an index (issue 15: a file written
with oneDNN failed to decode without it). Integer networks (Ballé, Johnston
and Minnen, ICLR 2019) remove the cause: the network computes exactly, so
every machine gets the same integers.

The classes here quantize a trained network after training: weights to
15-bit integers (one power-of-two scale per layer), biases and activations
to fixed point with `FRACTION_BITS` fractional bits, rounding done on
integers, activations saturated at +-2^`ACTIVATION_BITS`. The integers are
carried in float64 tensors, so TensorFlow's (Eigen's) double convolutions
and matrix products run them: every product and partial sum is an integer
below 2^53, which float64 represents exactly, so the result does not depend
on the order or grouping of the additions. Values cross the class boundary
as float32 multiples of 2^-FRACTION_BITS below 2^24 in units, which float32
holds exactly. `FixedPointLayer` is one layer (an upsampling `SignalConv2D`,
a Keras convolution, transposed convolution or dense layer, with a leaky
ReLU or none), `FixedPointSequential` a stack of them (the hyperprior
families' and the MSRB codec's hyper-synthesis, its entropy-parameter
network); `FixedPointRecurrentStack` the scalable RNN's hyper-synthesis, a
stack of "same" convolutions, ConvLSTM cells (sigmoid and tanh from integer
tables) and depth-to-space steps. `experiments/reliability/` measures the
cost.
"""

import math

import numpy as np
import tensorflow as tf

from tfvrc.layers import msrb
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
  """A kernel as integers below 2^WEIGHT_BITS (scaled by the largest power
  of two that allows) and its bias in the accumulator's units;
  `rescaled(total)` brings a sum of products back to units."""

  def __init__(self, kernel, bias, taps, name):
    if ACTIVATION_BITS + WEIGHT_BITS + math.log2(taps) + 1 > EXACT_BITS:
      raise ValueError(f"{name}: {taps} taps per output are too many "
                       "for exact float64 sums")
    kernel = np.asarray(kernel, np.float64)
    self.shift = math.floor(math.log2(
        (2 ** WEIGHT_BITS - 1) / (float(np.max(np.abs(kernel))) or 1.)))
    self.kernel = tf.constant(np.round(np.ldexp(kernel, self.shift)))
    bias = (np.zeros(kernel.shape[-1]) if bias is None
            else np.asarray(bias, np.float64))
    self.bias = tf.constant(np.round(np.ldexp(bias,
                                              FRACTION_BITS + self.shift)))

  def rescaled(self, total):
    return _round((total + self.bias) * 2. ** -self.shift)


# The leaky ReLUs of the trained networks, by function, and their slopes.
LEAKY_RELU_SLOPES = {transforms.leaky_relu: transforms.LEAKY_RELU_SLOPE,
                     msrb.leaky_relu: msrb.LEAKY_RELU_SLOPE}


def _slope(layer):
  """The layer's leaky ReLU slope, None for no activation."""
  activation = _activation(layer)
  if activation is not None and activation not in LEAKY_RELU_SLOPES:
    raise ValueError(f"{layer.name}: only a leaky ReLU or no activation "
                     "has a fixed-point version")
  return LEAKY_RELU_SLOPES.get(activation)


def leaky_relu(units, slope):
  """The leaky ReLU on units, its slope an integer over 2^SLOPE_BITS."""
  slope = round(slope * 2 ** SLOPE_BITS)
  return tf.where(units < 0, _round(units * (slope * 2. ** -SLOPE_BITS)),
                  units)


def _refuse(layer, what):
  raise ValueError(f"{layer.name}: only {what} have a fixed-point version")


class FixedPointLayer:
  """A linear map on units, then a leaky ReLU (`slope`) or nothing.

  `kind` is "subpixel" (an upsampling `SignalConv2D`'s kernel), "transposed"
  (a Keras transposed convolution's [h, w, out, in]), "convolution" (a
  stride-1 "same" one, [h, w, in, out]) or "dense" ([in, out]); `of_layer`
  builds one from a trained layer.
  """

  def __init__(self, kind, kernel, bias=None, slope=None, stride=1,
               name="layer"):
    self.kind, self.slope, self.stride = kind, slope, stride
    self._apply = getattr(self, "_" + kind)
    shape = kernel.shape
    inputs = shape[-2] if kind != "transposed" else shape[-1]
    taps = (inputs if kind == "dense" else math.ceil(shape[0] / stride)
            * math.ceil(shape[1] / stride) * inputs)
    self.weights = _IntegerWeights(kernel, bias, taps, name)

  def _subpixel(self, units):
    return signal_conv.subpixel_up_convolve(units, self.weights.kernel,
                                            self.stride)

  def _transposed(self, units):
    shape = tf.shape(units)
    return tf.nn.conv2d_transpose(
        units, self.weights.kernel,
        [shape[0], self.stride * shape[1], self.stride * shape[2],
         self.weights.kernel.shape[2]], self.stride, "SAME")

  def _convolution(self, units):
    return tf.nn.conv2d(units, self.weights.kernel, 1, "SAME")

  def _dense(self, units):
    return tf.matmul(units, self.weights.kernel)

  def __call__(self, units):
    """Fixed-point activations (float64 integers) in, the layer's out."""
    units = self.weights.rescaled(self._apply(units))
    if self.slope is not None:
      units = leaky_relu(units, self.slope)
    return saturate(units)


def of_layer(layer):
  """The `FixedPointLayer` of a trained layer: an upsampling `SignalConv2D`
  (same_zeros), a Keras "same" `Conv2DTranspose` of square stride, a Keras
  "same" `Conv2D` of stride 1 and odd size, or a `Dense`."""
  slope = _slope(layer)
  bias = layer.bias if layer.use_bias else None
  stride = 1
  if isinstance(layer, signal_conv.SignalConv2D):
    if (layer.corr or layer.padding != "same_zeros"
        or any(s != 1 for s in layer.strides_down)
        or layer.strides_up[0] != layer.strides_up[1]):
      _refuse(layer, "same_zeros upsampling SignalConv2Ds")
    kind, stride = "subpixel", layer.strides_up[0]
  elif isinstance(layer, tf.keras.layers.Conv2DTranspose):
    if (layer.padding != "same" or layer.strides[0] != layer.strides[1]
        or layer.output_padding is not None
        or tuple(layer.dilation_rate) != (1, 1)):
      _refuse(layer, "'same' transposed convolutions of square stride")
    kind, stride = "transposed", layer.strides[0]
  elif isinstance(layer, tf.keras.layers.Conv2D):
    if (layer.padding != "same" or tuple(layer.strides) != (1, 1)
        or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1
        or any(k % 2 == 0 for k in layer.kernel_size)):
      _refuse(layer, "odd-sized stride-1 'same' convolutions")
    kind = "convolution"
  elif isinstance(layer, tf.keras.layers.Dense):
    kind = "dense"
  else:
    _refuse(layer, "convolutions and dense layers")
  return FixedPointLayer(kind, layer.kernel, bias, slope, stride, layer.name)


class FixedPointSequential:
  """A trained network (a Sequential of layers `FixedPointLayer` takes),
  exact.

  Called on float32 input, it returns float32 outputs, which are multiples
  of 2^-FRACTION_BITS computed in integers from the input's exact value;
  `units` runs it on units.
  """

  def __init__(self, synthesis):
    self.layers = [of_layer(layer) for layer in synthesis.layers]

  def units(self, units):
    for layer in self.layers:
      units = layer(units)
    return units

  def __call__(self, x):
    return to_float32(self.units(to_units(x)))


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
    self.input_conv = _linear_convolution(cell.input_conv)
    self.hidden_conv = _linear_convolution(cell.hidden_conv)
    self.sigmoid, self.tanh = sigmoid, tanh

  def __call__(self, units, state):
    h, c = state
    i, f, o, g = tf.split(
        saturate(self.input_conv(units) + self.hidden_conv(h)), 4, axis=-1)
    c = saturate(_product(_lookup(self.sigmoid, f), c)
                 + _product(_lookup(self.sigmoid, i), _lookup(self.tanh, g)))
    h = _product(_lookup(self.sigmoid, o), _lookup(self.tanh, c))
    return h, (h, c)


def _linear_convolution(layer):
  """A stride-1 Keras convolution without activation on units."""
  if not isinstance(layer, tf.keras.layers.Conv2D) or _activation(layer):
    _refuse(layer, "convolutions without activation")
  return of_layer(layer)


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
        self.steps.append(_linear_convolution(step))

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
