"""Transforms of the asymmetric MSRB codec (Fu et al. 2022, on Cheng et al.
CVPR 2020): residual blocks, the improved multi-scale residual block (MSRB),
Cheng's simplified attention, the importance map and the post-quantization
filter.

Plain Keras convolutions with "same" padding (oneDNN's fast kernels, also in
bfloat16): a stride-2 layer gives ceil(n / 2) samples, so any image size
works and the decoder's output is cropped. Leaky ReLU slope 0.2, the TF1
default the original used. The analysis downsamples 16x in four stages, with
an MSRB before each of the last three; the synthesis upsamples by sub-pixel
convolutions with one MSRB (the asymmetric design) or three (its symmetric
twin).
"""

import tensorflow as tf
import tensorflow_compression as tfc

LEAKY_RELU_SLOPE = 0.2


def leaky_relu(x):
  return tf.nn.leaky_relu(x, alpha=LEAKY_RELU_SLOPE)


def conv(filters, kernel, strides=1, activation=None, use_bias=True,
         name=None, dtype=None, **kwargs):
  return tf.keras.layers.Conv2D(filters, kernel, strides, padding="same",
                                activation=activation, use_bias=use_bias,
                                name=name, dtype=dtype, **kwargs)


class ResidualBlock(tf.keras.layers.Layer):
  """Cheng's RB: 1x1 N/2 ReLU -> k x k N/2 ReLU -> 1x1 N, plus the input."""

  def __init__(self, filters, kernel=3, name=None):
    super().__init__(name=name)
    self.body = tf.keras.Sequential([
        conv(filters // 2, 1, activation="relu", name="reduce"),
        conv(filters // 2, kernel, activation="relu", name="spatial"),
        conv(filters, 1, name="expand")], name="body")

  def call(self, x):
    return x + self.body(x)


def residual_blocks(filters, name):
  """Three 3x3 residual blocks in a row."""
  return tf.keras.Sequential([ResidualBlock(filters, name=f"block_{i}")
                              for i in range(3)], name=name)


class MSRB(tf.keras.layers.Layer):
  """Fu's improved multi-scale residual block: 3x3 and 5x5 residual blocks,
  two 1x1 + GDN mixes of their outputs (concatenated in either order), a
  second 3x3 and 5x5 block, a 1x1 fusion, plus the input."""

  def __init__(self, filters, name=None):
    super().__init__(name=name)
    self.first = [ResidualBlock(filters, k, name=f"first_{k}")
                  for k in (3, 5)]
    self.mix = [conv(filters, 1, activation=tfc.GDN(name="gdn"),
                     name=f"mix_{i}") for i in range(2)]
    self.second = [ResidualBlock(filters, k, name=f"second_{k}")
                   for k in (3, 5)]
    self.fuse = conv(filters, 1, name="fuse")

  def call(self, x):
    t3, t5 = (block(x) for block in self.first)
    a = self.mix[0](tf.concat([t3, t5], -1))
    b = self.mix[1](tf.concat([t5, t3], -1))
    s3, s5 = self.second[0](a), self.second[1](b)
    return x + self.fuse(tf.concat([s3, s5], -1))


class Attention(tf.keras.layers.Layer):
  """Cheng's simplified attention: x + sigmoid(1x1(RB^3 x)) * RB^3 x."""

  def __init__(self, filters, name=None):
    super().__init__(name=name)
    self.trunk = residual_blocks(filters, "trunk")
    self.mask = tf.keras.Sequential(
        [residual_blocks(filters, "blocks"),
         conv(filters, 1, activation="sigmoid", name="gate")], name="mask")

  def call(self, x):
    return x + self.mask(x) * self.trunk(x)


class DownBlock(tf.keras.layers.Layer):
  """Halves the resolution: 3x3/2 leaky ReLU -> 3x3 GDN, plus a 1x1/2
  shortcut. The shortcut is a 1x1 convolution of x[::2, ::2] (the same
  function), which avoids TF 2.14 oneDNN's crash in the backward pass of a
  1x1 stride-2 convolution on 3 channels."""

  def __init__(self, filters, name=None):
    super().__init__(name=name)
    self.main = tf.keras.Sequential([
        conv(filters, 3, 2, activation=leaky_relu, name="down"),
        conv(filters, 3, activation=tfc.GDN(name="gdn"), name="refine")],
                                    name="main")
    self.shortcut = conv(filters, 1, name="shortcut")

  def call(self, x):
    return self.main(x) + self.shortcut(x[:, ::2, ::2, :])


class UpBlock(tf.keras.layers.Layer):
  """Doubles the resolution by sub-pixel convolutions: 3x3 4N leaky ReLU ->
  depth-to-space -> 3x3 IGDN, plus a 1x1 4N -> depth-to-space shortcut."""

  def __init__(self, filters, name=None):
    super().__init__(name=name)
    self.up = conv(4 * filters, 3, activation=leaky_relu, name="up")
    self.refine = conv(filters, 3, activation=tfc.GDN(inverse=True,
                                                       name="igdn"),
                       name="refine")
    self.shortcut = conv(4 * filters, 1, name="shortcut")

  def call(self, x):
    main = self.refine(tf.nn.depth_to_space(self.up(x), 2))
    return main + tf.nn.depth_to_space(self.shortcut(x), 2)


class ImportanceMap(tf.keras.layers.Layer):
  """The importance branch (as the released code): 3x3/2 GDN -> h0, three
  residual blocks -> h3, m = softsign(tanh(h0 + h3)), in (-0.5, 0.5)."""

  def __init__(self, filters, name=None):
    super().__init__(name=name)
    self.head = conv(filters, 3, 2, activation=tfc.GDN(name="gdn"),
                     name="head")
    self.body = residual_blocks(filters, "body")

  def call(self, x):
    h0 = self.head(x)
    return tf.nn.softsign(tf.tanh(h0 + self.body(h0)))


class Analysis(tf.keras.layers.Layer):
  """Image in [0, 255] to the latent y (N channels, 16x fewer samples per
  side): a down block, then MSRB + down block three times (attention after
  the second stage), the last down step a bias-free 3x3/2 conv and attention,
  scaled by the importance map when `importance_map`."""

  def __init__(self, filters, importance_map=True, name="analysis"):
    super().__init__(name=name)
    self.stages = [DownBlock(filters, name="down_0"),
                   MSRB(filters, name="msrb_1"),
                   DownBlock(filters, name="down_1"),
                   Attention(filters, name="attention_0"),
                   MSRB(filters, name="msrb_2"),
                   DownBlock(filters, name="down_2"),
                   MSRB(filters, name="msrb_3")]
    self.last = tf.keras.Sequential(
        [conv(filters, 3, 2, use_bias=False, name="down"),
         Attention(filters, name="attention_1")], name="last")
    self.importance = (ImportanceMap(filters, name="importance")
                       if importance_map else None)

  def call(self, x):
    # Zeros to a multiple of 16 first: every stride-2 layer then sees an
    # even size, where "same" pads only after the end, so a tile and the
    # whole image sample on the same grid (`models.tiling`); y keeps its
    # ceil(n / 16) samples.
    extra = -tf.shape(x)[1:3] % 16
    x = tf.pad(x / 255., [[0, 0], [0, extra[0]], [0, extra[1]], [0, 0]])
    for stage in self.stages:
      x = stage(x)
    y = self.last(x)
    if self.importance is not None:
      y *= self.importance(x)
    return tf.cast(y, tf.float32)


class Synthesis(tf.keras.layers.Layer):
  """Latent to image in [0, 255] (before clipping): attention, four sub-pixel
  up stages (attention before the third) and a 12-channel 3x3 conv to
  depth-to-space. MSRBs before the up stages `msrb_stages` (of 1..3): (2,)
  is Fu's asymmetric decoder, (1, 2, 3) mirrors the encoder."""

  def __init__(self, filters, msrb_stages=(2,), name="synthesis"):
    super().__init__(name=name)
    self.stages = [Attention(filters, name="attention_0")]
    for i in range(3):
      if i == 2:
        self.stages.append(Attention(filters, name="attention_1"))
      if i in msrb_stages:
        self.stages.append(MSRB(filters, name=f"msrb_{i}"))
      self.stages.append(UpBlock(filters, name=f"up_{i}"))
    if 3 in msrb_stages:
      self.stages.append(MSRB(filters, name="msrb_3"))
    # Starts near mid-grey: with Glorot's start the untrained decoder's
    # output spans about +-3000 on 0..255, and while training shrinks it the
    # rate term drives y to zero (seen: mean |y| 0.9 -> 0.05 in 100 steps).
    self.last = conv(
        12, 3, name="last",
        kernel_initializer=tf.keras.initializers.VarianceScaling(1e-4),
        bias_initializer=tf.keras.initializers.Constant(.5))

  def call(self, y):
    x = tf.cast(y, self.compute_dtype)
    for stage in self.stages:
      x = stage(x)
    x = tf.nn.depth_to_space(self.last(x), 2)
    return 255. * tf.cast(x, tf.float32)


class PostQuantizationFilter(tf.keras.layers.Layer):
  """Fu's PQF, which the paper describes only as "a 3x3 convolution filter
  applied to each feature map after entropy decoding": our reading is a
  residual depthwise 3x3 convolution, y + dw(y), zero-initialised so it
  starts as the identity. Float32, before the synthesis."""

  def __init__(self, name="pqf"):
    super().__init__(name=name, dtype="float32")
    self.filter = tf.keras.layers.DepthwiseConv2D(
        3, padding="same", depthwise_initializer="zeros", name="filter",
        dtype="float32")

  def call(self, y):
    return y + self.filter(y)


def hyper_analysis(filters):
  """Cheng's h_a, on y itself: four 3x3 leaky ReLU convs (two stride 2) and
  a last linear one; z has N channels and 4x fewer samples per side."""
  return tf.keras.Sequential(
      [conv(filters, 3, s, activation=leaky_relu, name=f"layer_{i}",
            dtype="float32") for i, s in enumerate((1, 1, 2, 1))]
      + [conv(filters, 3, 2, name="layer_4", dtype="float32")],
      name="hyper_analysis")


def hyper_synthesis(filters):
  """Cheng's h_s: to 2N channels of phi at y's resolution (4x up)."""
  wide = filters * 3 // 2

  def up(width, name):
    return tf.keras.layers.Conv2DTranspose(
        width, 3, 2, padding="same", activation=leaky_relu, name=name,
        dtype="float32")
  return tf.keras.Sequential([
      conv(filters, 3, activation=leaky_relu, name="layer_0",
           dtype="float32"),
      up(filters, "layer_1"),
      conv(wide, 3, activation=leaky_relu, name="layer_2", dtype="float32"),
      up(wide, "layer_3"),
      conv(2 * filters, 3, name="layer_4", dtype="float32")],
                             name="hyper_synthesis")
