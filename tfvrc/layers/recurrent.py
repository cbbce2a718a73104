"""Convolutional LSTM stacks of the scalable RNN-hyperprior coder (Su et al.,
ICIP 2020, after Toderici et al. 2017).

A stack is a sequence of plain convolutions, ConvLSTM cells and 2x
depth-to-space steps; `RecurrentStack.__call__(x, states)` runs it once and
returns the output with every cell's new (h, c), so the same weights run each
residual iteration with the state the previous one left.

Widths follow the original in units of its 128-channel hyper width
(`num_filters`): the original is num_filters=128. Convolutions use "same"
padding as TF1's `tf.layers.conv2d`, so inputs whose sides are a multiple of
the stack's total stride give exact shapes (the model pads to that).
"""

import tensorflow as tf

# E's and HE's output convolutions start this much larger than Glorot's, and
# D's and HD's input convolutions this much smaller (so D and HD start as
# they would): y and z then start near the quantizer's integer step. From
# the original's Glorot start, y stays below it for hundreds of steps (seen
# here: mean |y| 0.3 and 18.4 dB after 700 steps at N=32). A small gain:
# 150 steps at 64x64 crops reached 18.2 dB against 17.9 with Glorot's start.
LATENT_INIT_GAIN = 8.


class ConvLSTM(tf.keras.layers.Layer):
  """gates = conv(x, stride) + conv(h); [i, f, o, g] as in the original;
  c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c')."""

  def __init__(self, filters, kernel_size, strides=1, name=None, dtype=None):
    super().__init__(name=name, dtype=dtype)
    self.filters = filters
    self.strides = strides
    self.input_conv = tf.keras.layers.Conv2D(
        4 * filters, kernel_size, strides, padding="same", name="input",
        dtype=dtype)
    self.hidden_conv = tf.keras.layers.Conv2D(
        4 * filters, kernel_size, padding="same", name="hidden", dtype=dtype)

  def call(self, x, state):
    h, c = (tf.cast(s, self.compute_dtype) for s in state)
    gates = self.input_conv(x) + self.hidden_conv(h)
    i, f, o, g = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    h = tf.sigmoid(o) * tf.tanh(c)
    return h, (h, c)


class DepthToSpace(tf.keras.layers.Layer):
  """2x upsampling by moving channels to space (4 channels -> 1)."""

  def call(self, x):
    return tf.nn.depth_to_space(x, 2)


class RecurrentStack(tf.keras.layers.Layer):
  """Runs `steps` in order, threading one (h, c) state per ConvLSTM."""

  def __init__(self, steps, name=None, dtype=None):
    super().__init__(name=name, dtype=dtype)
    self.steps = steps

  @property
  def cells(self):
    return [s for s in self.steps if isinstance(s, ConvLSTM)]

  def call(self, x, states):
    states = iter(states)
    new_states = []
    for step in self.steps:
      if isinstance(step, ConvLSTM):
        x, state = step(x, next(states))
        new_states.append(state)
      else:
        x = step(x)
    return x, tuple(new_states)

  def initial_state(self, batch, height, width, dtype=tf.float32):
    """Zero (h, c) of every cell for an input of `height` x `width` (a
    multiple of the stack's stride)."""
    states = []
    up, down = 1, 1  # the resolution relative to the input is up / down
    for step in self.steps:
      if isinstance(step, DepthToSpace):
        up *= 2
      else:
        down *= _stride(step)
      if isinstance(step, ConvLSTM):
        zeros = tf.zeros([batch, height * up // down, width * up // down,
                          step.filters], dtype)
        states.append((zeros, zeros))
    return tuple(states)

  def state_spec(self):
    """TensorSpecs of the states (any batch and size), float32."""
    return tuple(
        (tf.TensorSpec([None, None, None, c.filters], tf.float32),) * 2
        for c in self.cells)


def _stride(layer):
  """The downsampling of a Conv2D or ConvLSTM."""
  strides = layer.strides
  return strides[0] if isinstance(strides, tuple) else strides


def _conv(filters, kernel, strides=1, activation=None, init_gain=1.,
          name=None, dtype=None):
  """A "same" convolution, its Glorot-uniform start scaled by `init_gain`."""
  return tf.keras.layers.Conv2D(
      filters, kernel, strides, padding="same", activation=activation,
      kernel_initializer=tf.keras.initializers.VarianceScaling(
          init_gain ** 2, "fan_avg", "uniform"), name=name, dtype=dtype)


def analysis_stack(num_filters, latent_depth):
  """E: the residual (-0.5..0.5) to y, 16x smaller; y in float32."""
  n = num_filters
  return RecurrentStack([
      _conv(n // 2, 3, 2, name="conv_in"),
      ConvLSTM(2 * n, 3, 2, name="lstm_0"),
      ConvLSTM(4 * n, 3, 2, name="lstm_1"),
      ConvLSTM(4 * n, 3, 2, name="lstm_2"),
      _conv(latent_depth, 1, init_gain=LATENT_INIT_GAIN, name="conv_out",
            dtype="float32"),
  ], name="analysis")


def synthesis_stack(num_filters):
  """D: y_hat to a residual estimate in -0.5..0.5 (tanh / 2), float32."""
  n = num_filters
  return RecurrentStack([
      _conv(n, 3, init_gain=1 / LATENT_INIT_GAIN, name="conv_in"),
      ConvLSTM(4 * n, 2, name="lstm_0"), DepthToSpace(name="up_0"),
      ConvLSTM(4 * n, 3, name="lstm_1"), DepthToSpace(name="up_1"),
      ConvLSTM(2 * n, 3, name="lstm_2"), DepthToSpace(name="up_2"),
      ConvLSTM(n, 3, name="lstm_3"), DepthToSpace(name="up_3"),
      _conv(3, 3, activation=lambda x: tf.tanh(x) / 2, name="conv_out",
            dtype="float32"),
  ], name="synthesis")


def hyper_analysis_stack(num_filters):
  """HE: |y| to z, 4x smaller, float32 (it is cheap and feeds the coder)."""
  n = num_filters
  return RecurrentStack([
      _conv(n, 3, name="conv_in", dtype="float32"),
      ConvLSTM(n, 3, 2, name="lstm_0", dtype="float32"),
      ConvLSTM(n, 3, 2, name="lstm_1", dtype="float32"),
      _conv(n, 1, init_gain=LATENT_INIT_GAIN, name="conv_out",
            dtype="float32"),
  ], name="hyper_analysis", dtype="float32")


def hyper_synthesis_stack(num_filters, latent_depth):
  """HD: z_hat to y's Gaussian scales (before the 0.11 lower bound),
  float32: the scales pick the range coder's tables."""
  n = num_filters
  return RecurrentStack([
      _conv(n, 3, init_gain=1 / LATENT_INIT_GAIN, name="conv_in",
            dtype="float32"),
      ConvLSTM(n, 3, name="lstm_0", dtype="float32"),
      DepthToSpace(name="up_0", dtype="float32"),
      ConvLSTM(n, 3, name="lstm_1", dtype="float32"),
      DepthToSpace(name="up_1", dtype="float32"),
      _conv(latent_depth, 3, name="conv_out", dtype="float32"),
  ], name="hyper_synthesis", dtype="float32")
