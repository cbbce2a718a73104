"""Mean-scale hyperprior (Minnen et al. 2018, "mbt2018-mean" without its serial
context), optionally with a checkerboard context (He et al. 2021).

The fixed-rate baseline, and the skeleton the variable-rate families extend:
they wrap its latent codecs (`side_codec` for the hyper-latent,
`around_latent` for the whole latent codec) or override the `analysis` and
`synthesis` hooks, and set the rate methods.
"""

import tensorflow as tf

from tfvrc.entropy import conditionals
from tfvrc import latent_codecs
from tfvrc.layers import transforms
from tfvrc.models import vae


class FixedLambda:
  """Mixed into a fixed-rate family: its rate knob is its own lambda
  (`_lmbda`)."""

  @property
  def rate_range(self):
    return (self._lmbda, self._lmbda)

  def lmbda(self, rate):
    return tf.fill(tf.shape(rate), self._lmbda)

  def sample_rates(self, batch_size):
    return tf.fill([batch_size], self._lmbda)


# y's context model: none, or a checkerboard (`latent_codecs.checkerboard`).
CONTEXTS = ("none", "checkerboard")


class MeanScaleHyperprior(FixedLambda, vae.VAE):
  """Fixed-rate mean-scale hyperprior; its rate knob is its own lambda."""

  family = "hyperprior"
  num_strings = 2  # latent, hyper-latent (+1 with a checkerboard context)
  separate_gdn = False  # see transforms: True for modulated subclasses

  def __init__(self, lmbda=0.0067, num_filters=128, latent_depth=192,
               entropy_model="gaussian", context="none", name=None):
    if context not in CONTEXTS:
      raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, got "
                       f"{context!r}")
    # Before the base class builds the coding signatures from it.
    self.num_strings = type(self).num_strings + (context == "checkerboard")
    super().__init__(name=name)
    self._lmbda = float(lmbda)
    self.num_filters = num_filters
    self.latent_depth = latent_depth
    self.entropy_model = entropy_model
    self.context = context
    conditional = conditionals.conditional(entropy_model)
    self.analysis_transform = transforms.AnalysisTransform(
        num_filters, latent_depth, self.separate_gdn)
    self.synthesis_transform = transforms.SynthesisTransform(
        num_filters, self.separate_gdn)
    parts = dict(
        hyper_analysis=transforms.HyperAnalysisTransform(num_filters),
        hyper_synthesis=transforms.HyperSynthesisTransform(
            latent_depth, conditional.num_params),
        side=self.side_codec(latent_codecs.EntropyBottleneck(num_filters)),
        conditional=conditional)
    self.latent_codec = self.around_latent(
        latent_codecs.CheckerboardCodec(latent_depth=latent_depth, **parts)
        if context == "checkerboard" else
        latent_codecs.HyperpriorCodec(**parts))
    self.build_variables()

  def side_codec(self, bottleneck):
    """The hyper-latent's codec around its entropy bottleneck."""
    return bottleneck

  def around_latent(self, codec):
    """The latent codec around the hyperprior codec."""
    return codec

  @property
  def hyperprior_codec(self):
    """The `HyperpriorCodec` inside `latent_codec`."""
    return latent_codecs.unwrapped(self.latent_codec,
                                   latent_codecs.HyperpriorCodec)

  def legacy_components(self):
    """The parts whose weights positional (pre-name-keyed) weights files
    hold, in their order."""
    codec = self.hyperprior_codec
    bottleneck = latent_codecs.unwrapped(codec.side,
                                         latent_codecs.EntropyBottleneck)
    return [self.analysis_transform, self.synthesis_transform,
            codec.hyper_analysis, codec.hyper_synthesis, bottleneck.prior]

  def build_variables(self):
    """Creates every variable from the input shapes (no forward pass)."""
    codec = self.hyperprior_codec
    self.analysis_transform.build((None, None, None, 3))
    self.synthesis_transform.build((None, None, None, self.latent_depth))
    codec.hyper_analysis.build((None, None, None, self.latent_depth))
    codec.hyper_synthesis.build((None, None, None, self.num_filters))
    if self.context == "checkerboard":
      codec.build_context()

  def get_config(self):
    return dict(lmbda=self._lmbda, num_filters=self.num_filters,
                latent_depth=self.latent_depth,
                entropy_model=self.entropy_model, context=self.context)
