"""Analysis, synthesis and hyper transforms shared by the hyperprior families.

Built from `tfc.SignalConv2D` (``same_zeros`` padding, so latent sample 0 is
aligned with pixel 0 for any image size) and `tfc.GDN`, with the layer layout of
Minnen et al. 2018 ("mbt2018-mean"): four 5x5 stride-2 convolutions with GDN on
each side, and a LeakyReLU hyper transform pair whose synthesis side predicts
means and scale indexes.
"""

import tensorflow as tf
import tensorflow_compression as tfc

# PyTorch/CompressAI default slope, which the mean-scale hyperprior was published with.
LEAKY_RELU_SLOPE = 0.01


def leaky_relu(x):
  return tf.nn.leaky_relu(x, alpha=LEAKY_RELU_SLOPE)


def down_conv(filters, kernel, stride, activation=None, use_bias=True, name=None):
  """A correlation layer that keeps sample 0 aligned under downsampling."""
  return tfc.SignalConv2D(
      filters, (kernel, kernel), corr=True, strides_down=stride,
      padding="same_zeros", use_bias=use_bias, activation=activation, name=name)


def up_conv(filters, kernel, stride, activation=None, kernel_parameter="rdft",
            name=None):
  """A transposed (convolution) layer; the output is cropped by the caller."""
  return tfc.SignalConv2D(
      filters, (kernel, kernel), corr=False, strides_up=stride,
      padding="same_zeros", use_bias=True, activation=activation,
      kernel_parameter=kernel_parameter, name=name)


class AnalysisTransform(tf.keras.Sequential):
  """Image in [0, 255] to latent y with 16x fewer samples per side."""

  def __init__(self, num_filters, latent_depth, name="analysis"):
    super().__init__(name=name)
    self.add(tf.keras.layers.Rescaling(1 / 255.))
    for i in range(3):
      self.add(down_conv(num_filters, 5, 2, activation=tfc.GDN(name=f"gdn_{i}"),
                         name=f"layer_{i}"))
    self.add(down_conv(latent_depth, 5, 2, name="layer_3"))


class SynthesisTransform(tf.keras.Sequential):
  """Latent y back to an image in [0, 255] (before clipping and rounding)."""

  def __init__(self, num_filters, name="synthesis"):
    super().__init__(name=name)
    for i in range(3):
      self.add(up_conv(num_filters, 5, 2,
                       activation=tfc.GDN(inverse=True, name=f"igdn_{i}"),
                       name=f"layer_{i}"))
    self.add(up_conv(3, 5, 2, name="layer_3"))
    self.add(tf.keras.layers.Rescaling(255.))


class HyperAnalysisTransform(tf.keras.Sequential):
  """Latent y to hyper-latent z with 4x fewer samples per side."""

  def __init__(self, num_filters, name="hyper_analysis"):
    super().__init__(name=name)
    self.add(down_conv(num_filters, 3, 1, activation=leaky_relu, name="layer_0"))
    self.add(down_conv(num_filters, 5, 2, activation=leaky_relu, name="layer_1"))
    self.add(down_conv(num_filters, 5, 2, use_bias=False, name="layer_2"))


class HyperSynthesisTransform(tf.keras.Sequential):
  """Hyper-latent to `num_params * latent_depth` entropy parameters."""

  def __init__(self, latent_depth, num_params=2, name="hyper_synthesis"):
    super().__init__(name=name)
    wide = latent_depth * 3 // 2
    self.add(up_conv(latent_depth, 5, 2, activation=leaky_relu,
                     kernel_parameter="variable", name="layer_0"))
    self.add(up_conv(wide, 5, 2, activation=leaky_relu,
                     kernel_parameter="variable", name="layer_1"))
    self.add(up_conv(num_params * latent_depth, 3, 1,
                     kernel_parameter="variable",
                     name="layer_2"))
