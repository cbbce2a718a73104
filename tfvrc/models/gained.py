"""Gained mean-scale hyperprior (Cui et al., CVPR 2021): one model, any rate.

The baseline with gain units around both quantizers (`latent_codecs.GainCodec`
around its hyperprior codec and around its hyper-latent's bottleneck): y is
scaled by a gain vector before coding and by an inverse gain after decoding,
and the hyper-latent z likewise. The hyper analysis sees the gained latent, as in the
CompressAI-based re-implementation (mmSir/GainedVAE). Training draws one
integer level per sample and weights its distortion with that level's lambda;
coding takes any continuous rate in [0, L - 1].

The gain units start at one (Cui et al.), and then, with the default
`gain_init="lambda"`, the latent's gains are set to sqrt(lambda_s / lambda_0)
and its inverse gains to the reciprocals: at high rate the best quantization
step of bpp + lambda * MSE shrinks as lambda^(-1/2), so every level starts
near its own trade-off, around lambda_0 (the geometric mean of the lambdas, or
the baseline's lambda after `zoo.init_from` a baseline). Started from ones, the
levels separate only as fast as the optimizer moves them (Adam: about the
learning rate per step; experiments/gained/README.md has the measurement).
"""

import tensorflow as tf

from tfvrc import latent_codecs
from tfvrc.layers import gain
from tfvrc.models import base
from tfvrc.models import hyperprior

# CompressAI's q1..q8 lambdas (bpp + lambda * MSE on 0..255): ~0.1-1.5 bpp.
DEFAULT_LMBDAS = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.18)


class GainLevels:
  """Mixed into a gained family: its rate knob is the gain level in
  [0, L - 1] over `lmbdas`, continuous at coding, integer in training."""

  @property
  def rate_range(self):
    return (0., len(self.lmbdas) - 1.)

  @property
  def default_rate(self):
    return (len(self.lmbdas) - 1) / 2

  def lmbda(self, rate):
    """Lambda of each rate, interpolated like the gains (log-linearly)."""
    return gain.interpolate_levels(tf.constant(self.lmbdas, tf.float32), rate)

  def sample_rates(self, batch_size):
    """One integer level per sample, uniformly."""
    levels = tf.random.uniform([batch_size], 0, len(self.lmbdas), tf.int32)
    return tf.cast(levels, tf.float32)


class GainedHyperprior(GainLevels, base.LambdaInit,
                       hyperprior.MeanScaleHyperprior):
  """Continuous-rate hyperprior; the rate knob is the level in [0, L - 1]."""

  family = "gained"

  def __init__(self, lmbdas=DEFAULT_LMBDAS, num_filters=128, latent_depth=192,
               entropy_model="gaussian", gain_init="lambda", context="none",
               name=None):
    self.lmbdas = tuple(sorted(float(l) for l in lmbdas))
    super().__init__(lmbda=self.lmbdas[0], num_filters=num_filters,
                     latent_depth=latent_depth, entropy_model=entropy_model,
                     context=context, name=name)
    self._start_scales("gain_init", gain_init, "ones")

  def _gain_pair(self, inner, channels, prefix):
    levels = len(self.lmbdas)
    return latent_codecs.GainCodec(
        inner, gain.GainUnit(levels, channels, name=f"{prefix}gain"),
        gain.GainUnit(levels, channels, name=f"inverse_{prefix}gain"),
        name=f"{prefix}gained")

  def side_codec(self, bottleneck):
    return self._gain_pair(bottleneck, self.num_filters, "hyper_")

  def around_latent(self, codec):
    return self._gain_pair(codec, self.latent_depth, "")

  @property
  def latent_gains(self):
    return self.latent_codec.gain, self.latent_codec.inverse_gain

  @property
  def hyper_gains(self):
    side = self.hyperprior_codec.side
    return side.gain, side.inverse_gain

  def legacy_components(self):
    return (super().legacy_components() + list(self.latent_gains)
            + list(self.hyper_gains))

  def get_config(self):
    return dict(lmbdas=list(self.lmbdas), num_filters=self.num_filters,
                latent_depth=self.latent_depth,
                entropy_model=self.entropy_model, gain_init=self.gain_init,
                context=self.context)
