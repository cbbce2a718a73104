"""Analysis, synthesis and hyper transforms shared by the hyperprior families.

Built from `tfc.SignalConv2D` (as `signal_conv.SignalConv2D`: the same layer
and weights, faster on CPU; ``same_zeros`` padding, so latent sample 0 is
aligned with pixel 0 for any image size) and `tfc.GDN`, with the layer layout of
Minnen et al. 2018 ("mbt2018-mean"): four 5x5 stride-2 convolutions with GDN on
each side, and a LeakyReLU hyper transform pair whose synthesis side predicts
means and scale indexes.

Under a mixed-precision policy (`tfvrc train --mixed_precision`) the analysis
and synthesis compute in bfloat16 but hand over float32 (a float32 output
layer, Keras' advice for mixed precision): the latent goes to the entropy
models and the image to the loss in full precision. The hyper transforms
always compute in float32: they are cheap (1/16 and 1/64 of the samples) and
pick the entropy tables, where a rounding difference moves a table index.

With `separate_gdn`, each (I)GDN is its own layer of the stack instead of its
convolution's activation, so a modulated model can scale the channels beside
it (`layers.modulation.run_modulated`). The default keeps the published weight
order of the zoo files.
"""

import functools

import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc.layers import signal_conv

# PyTorch/CompressAI default slope, which the mean-scale hyperprior was published with.
LEAKY_RELU_SLOPE = 0.01


def leaky_relu(x):
  return tf.nn.leaky_relu(x, alpha=LEAKY_RELU_SLOPE)


def down_conv(filters, kernel, stride, activation=None, use_bias=True,
              name=None, dtype=None):
  """A correlation layer that keeps sample 0 aligned under downsampling."""
  return signal_conv.SignalConv2D(
      filters, (kernel, kernel), corr=True, strides_down=stride,
      padding="same_zeros", use_bias=use_bias, activation=activation,
      name=name, dtype=dtype)


def up_conv(filters, kernel, stride, activation=None, kernel_parameter="rdft",
            name=None, dtype=None):
  """A transposed (convolution) layer; the output is cropped by the caller."""
  return signal_conv.SignalConv2D(
      filters, (kernel, kernel), corr=False, strides_up=stride,
      padding="same_zeros", use_bias=True, activation=activation,
      kernel_parameter=kernel_parameter, name=name, dtype=dtype)


def float32_output():
  """The last layer of a transform: hands over float32 under any policy."""
  return tf.keras.layers.Activation("linear", dtype="float32",
                                    name="float32_output")


class _GDNStack(tf.keras.Sequential):
  """A Sequential that adds a convolution with its (I)GDN as the activation,
  or, with `separate_gdn`, followed by the (I)GDN as a layer of its own."""

  def __init__(self, separate_gdn, name):
    super().__init__(name=name)
    self.separate_gdn = separate_gdn

  def add_with_gdn(self, conv_factory, gdn):
    if self.separate_gdn:
      self.add(conv_factory(activation=None))
      self.add(gdn)
    else:
      self.add(conv_factory(activation=gdn))


class AnalysisTransform(_GDNStack):
  """Image in [0, 255] to latent y with 16x fewer samples per side."""

  def __init__(self, num_filters, latent_depth, separate_gdn=False,
               name="analysis"):
    super().__init__(separate_gdn, name)
    self.add(tf.keras.layers.Rescaling(1 / 255.))
    for i in range(3):
      self.add_with_gdn(
          functools.partial(down_conv, num_filters, 5, 2, name=f"layer_{i}"),
          tfc.GDN(name=f"gdn_{i}"))
    self.add(down_conv(latent_depth, 5, 2, name="layer_3"))
    self.add(float32_output())


class SynthesisTransform(_GDNStack):
  """Latent y back to an image in [0, 255] (before clipping and rounding)."""

  def __init__(self, num_filters, separate_gdn=False, name="synthesis"):
    super().__init__(separate_gdn, name)
    for i in range(3):
      self.add_with_gdn(
          functools.partial(up_conv, num_filters, 5, 2, name=f"layer_{i}"),
          tfc.GDN(inverse=True, name=f"igdn_{i}"))
    self.add(up_conv(3, 5, 2, name="layer_3"))
    self.add(tf.keras.layers.Rescaling(255., dtype="float32"))


class FactorizedAnalysisTransform(tf.keras.Sequential):
  """The modulated autoencoder's analysis (Yang et al. 2020, on bls2017):
  9x9 stride 4, then two 5x5 stride 2 (the last without bias), each followed
  by a GDN of its own, the last one included; 16x fewer samples per side."""

  def __init__(self, num_filters, latent_depth, name="analysis"):
    super().__init__(name=name)
    self.add(tf.keras.layers.Rescaling(1 / 255.))
    for i, (filters, kernel, stride) in enumerate(
        ((num_filters, 9, 4), (num_filters, 5, 2), (latent_depth, 5, 2))):
      self.add(down_conv(filters, kernel, stride, use_bias=i < 2,
                         name=f"layer_{i}"))
      self.add(tfc.GDN(name=f"gdn_{i}"))
    self.add(float32_output())


class FactorizedSynthesisTransform(tf.keras.Sequential):
  """Its synthesis: an IGDN before each transposed convolution, the first on
  the quantized latent; 5x5 up 2, 5x5 up 2, 9x9 up 4 to three channels."""

  def __init__(self, num_filters, name="synthesis"):
    super().__init__(name=name)
    for i, (filters, kernel, stride) in enumerate(
        ((num_filters, 5, 2), (num_filters, 5, 2), (3, 9, 4))):
      self.add(tfc.GDN(inverse=True, name=f"igdn_{i}"))
      self.add(up_conv(filters, kernel, stride, name=f"layer_{i}"))
    self.add(tf.keras.layers.Rescaling(255., dtype="float32"))


class HyperAnalysisTransform(tf.keras.Sequential):
  """Latent y to hyper-latent z with 4x fewer samples per side."""

  def __init__(self, num_filters, name="hyper_analysis"):
    super().__init__(name=name)
    self.add(down_conv(num_filters, 3, 1, activation=leaky_relu,
                       name="layer_0", dtype="float32"))
    self.add(down_conv(num_filters, 5, 2, activation=leaky_relu,
                       name="layer_1", dtype="float32"))
    self.add(down_conv(num_filters, 5, 2, use_bias=False, name="layer_2",
                       dtype="float32"))


class HyperSynthesisTransform(tf.keras.Sequential):
  """Hyper-latent to `num_params * latent_depth` entropy parameters."""

  def __init__(self, latent_depth, num_params=2, name="hyper_synthesis"):
    super().__init__(name=name)
    wide = latent_depth * 3 // 2
    self.add(up_conv(latent_depth, 5, 2, activation=leaky_relu,
                     kernel_parameter="variable", name="layer_0",
                     dtype="float32"))
    self.add(up_conv(wide, 5, 2, activation=leaky_relu,
                     kernel_parameter="variable", name="layer_1",
                     dtype="float32"))
    self.add(up_conv(num_params * latent_depth, 3, 1,
                     kernel_parameter="variable", name="layer_2",
                     dtype="float32"))
