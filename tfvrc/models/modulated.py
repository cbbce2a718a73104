"""Modulated autoencoders (Yang et al., IEEE SPL 2020): lambda drives the
transforms, so one autoencoder serves every trade-off.

The rate knob of every model here is lambda itself (bpp + lambda * MSE on
0..255), stored in the file; larger lambda means more bits.

- `ModulatedHyperprior` ("modulated"): the shared mean-scale hyperprior with
  modulation MLPs at the analysis GDNs and demodulation MLPs at the synthesis
  IGDNs. Its entropy model is driven by the hyperprior, so any lambda in the
  trained range codes (continuous rate).
- `ModulatedFactorized` ("modulated-factorized"): the released original: the
  bls2017-style transforms with one factorized entropy bottleneck per trained
  lambda, so it codes only at those lambdas.
- `ScaledBottleneck` ("scaled-bottleneck"): the paper's baseline after Theis
  et al. 2017: the hyperprior autoencoder trained at one lambda (start it from
  a trained `hyperprior`, `--init_from`) and frozen; per lambda, only a
  channel-wise scale of the latent before quantization and an inverse scale
  after it are learned (log-linear in lambda between trained points).

Every rate-dependent scale starts near its lambda's own trade-off by default
(`base.LambdaInit`; "glorot" or "ones" give the papers' initialisations,
which separate the rates slowly: experiments/modulated/README.md).

Training follows the paper: each batch is coded at every trained lambda and
the RD losses are summed (averaged, which only rescales the gradient);
`training="sample"` instead draws one trained lambda per image.
"""

import math

import tensorflow as tf

from tfvrc import latent_codecs
from tfvrc.layers import gain
from tfvrc.layers import modulation
from tfvrc.layers import transforms
from tfvrc.models import base
from tfvrc.models import hyperprior
from tfvrc.models import vae

# Log-spaced from CompressAI's q1 to its q8 lambda: ~0.1-1.5 bpp.
DEFAULT_LMBDAS = (0.0018, 0.0057, 0.018, 0.057, 0.18)
# The released scripts' set (128, 512, 2048 on MSE in 0..1), on 0..255.
FACTORIZED_LMBDAS = tuple(l / 255. ** 2 for l in (128., 512., 2048.))
TRAINING_MODES = ("joint", "sample")


class LambdaKnob:
  """Mixed into a `CompressionModel` whose rate knob is lambda, trained over
  a set of lambdas: jointly (every lambda on every batch) or sampled."""

  def _set_lambdas(self, lmbdas, training):
    if training not in TRAINING_MODES:
      raise ValueError(f"training must be one of {TRAINING_MODES}, got "
                       f"{training!r}")
    if len(lmbdas) < 2 or min(lmbdas) <= 0:
      raise ValueError(f"a lambda-driven model needs two or more positive "
                       f"lambdas, got {list(lmbdas)}")
    self.lmbdas = tuple(sorted(float(l) for l in lmbdas))
    self.training_mode = training

  def _config(self, **extra):
    """`get_config` of a lambda-driven model, with its family's `extra`."""
    return dict(lmbdas=list(self.lmbdas), num_filters=self.num_filters,
                latent_depth=self.latent_depth, training=self.training_mode,
                **extra)

  @property
  def rate_range(self):
    return (self.lmbdas[0], self.lmbdas[-1])

  @property
  def default_rate(self):
    """The geometric middle of the range, as the shortest float32 decimal."""
    return float(str(math.sqrt(self.lmbdas[0] * self.lmbdas[-1])))

  def lmbda(self, rate):
    return tf.cast(rate, tf.float32)

  def level(self, rate):
    """Each lambda's fractional position in the trained set, log-linearly:
    i at the i-th trained lambda, for `gain.interpolate_levels`."""
    logs = tf.math.log(tf.constant(self.lmbdas, tf.float32))
    x = tf.math.log(tf.cast(rate, tf.float32))
    lower = tf.clip_by_value(
        tf.searchsorted(logs, x, side="right") - 1, 0, len(self.lmbdas) - 2)
    low, high = tf.gather(logs, lower), tf.gather(logs, lower + 1)
    return tf.cast(lower, tf.float32) + (x - low) / (high - low)

  def sample_rates(self, batch_size):
    """One trained lambda per image, uniformly."""
    index = tf.random.uniform([batch_size], 0, len(self.lmbdas), tf.int32)
    return tf.gather(tf.constant(self.lmbdas, tf.float32), index)

  def training_batch(self, x):
    """Joint training: the batch once per trained lambda."""
    if self.training_mode == "sample":
      return super().training_batch(x)
    count = len(self.lmbdas)
    rates = tf.repeat(tf.constant(self.lmbdas, tf.float32), tf.shape(x)[0])
    return tf.tile(x, [count, 1, 1, 1]), rates


class LambdaModulated(LambdaKnob, base.LambdaInit):
  """The modulated autoencoders' hooks: analysis and synthesis with a
  modulation MLP at each (I)GDN (transforms with separate GDN layers)."""

  def _add_modulation(self, latent_depth, modulation_init):
    """One MLP per analysis GDN and per synthesis IGDN; lambda enters them
    divided by the largest trained lambda. `modulation_init` "glorot" is the
    original's (Keras defaults); "lambda" see `set_lambda_scales`."""
    norm = self.lmbdas[-1]
    self.modulation = [
        modulation.ModulationMLP(c, norm, name=f"modulation_{i}")
        for i, c in enumerate(
            modulation.gdn_channels(self.analysis_transform, 3))]
    self.demodulation = [
        modulation.ModulationMLP(c, norm, name=f"demodulation_{i}")
        for i, c in enumerate(
            modulation.gdn_channels(self.synthesis_transform, latent_depth))]
    self._start_scales("modulation_init", modulation_init, "glorot")

  def set_lambda_scales(self, reference_lmbda):
    """The modulation at the last analysis GDN scales like a latent gain,
    exp(lambda_log_gain), the demodulation after the first synthesis IGDN
    like its inverse, and the others are one: the scale passes through the
    GDN pair nearly as through a gain unit (measured in
    experiments/modulated/README.md)."""
    def log_gain(lmbda):
      return gain.lambda_log_gain(lmbda, reference_lmbda)
    self.modulation[-1].fit_log_scales(self.rate_range, log_gain)
    self.demodulation[0].fit_log_scales(self.rate_range,
                                        lambda l: -log_gain(l))
    for mlp in self.modulation[:-1] + self.demodulation[1:]:
      mlp.fit_log_scales(self.rate_range, lambda l: 0. * l)

  def analysis(self, x, rate):
    return modulation.run_modulated(self.analysis_transform, x,
                                    [m(rate) for m in self.modulation])

  def synthesis(self, y_hat, rate):
    return modulation.run_modulated(self.synthesis_transform, y_hat,
                                    [m(rate) for m in self.demodulation])


class ModulatedHyperprior(LambdaModulated, hyperprior.MeanScaleHyperprior):
  """Mean-scale hyperprior MAE: continuous lambda in the trained range."""

  family = "modulated"
  separate_gdn = True

  def __init__(self, lmbdas=DEFAULT_LMBDAS, num_filters=128, latent_depth=192,
               entropy_model="gaussian", training="joint",
               modulation_init="lambda", name=None):
    self._set_lambdas(lmbdas, training)
    super().__init__(lmbda=self.lmbdas[0], num_filters=num_filters,
                     latent_depth=latent_depth, entropy_model=entropy_model,
                     name=name)
    self._add_modulation(latent_depth, modulation_init)

  def get_config(self):
    return self._config(entropy_model=self.entropy_model,
                        modulation_init=self.modulation_init)

  def legacy_components(self):
    return super().legacy_components() + self.modulation + self.demodulation


class ModulatedFactorized(LambdaModulated, vae.VAE):
  """The original factorized-prior MAE: one entropy bottleneck per lambda."""

  family = "modulated-factorized"
  num_strings = 1

  def __init__(self, lmbdas=FACTORIZED_LMBDAS, num_filters=192,
               latent_depth=192, training="joint", modulation_init="lambda",
               name=None):
    self._set_lambdas(lmbdas, training)
    super().__init__(name=name)
    self.num_filters = num_filters
    self.latent_depth = latent_depth
    self.analysis_transform = transforms.FactorizedAnalysisTransform(
        num_filters, latent_depth)
    self.synthesis_transform = transforms.FactorizedSynthesisTransform(
        num_filters)
    self.analysis_transform.build((None, None, None, 3))
    self.synthesis_transform.build((None, None, None, latent_depth))
    self.latent_codec = latent_codecs.PerRateCodec(
        [latent_codecs.EntropyBottleneck(latent_depth, name=f"prior_{i}")
         for i in range(len(self.lmbdas))], self._bottleneck_index)
    self._add_modulation(latent_depth, modulation_init)

  def get_config(self):
    return self._config(modulation_init=self.modulation_init)

  @property
  def priors(self):
    return [codec.prior for codec in self.latent_codec.codecs]

  def legacy_components(self):
    return ([self.analysis_transform, self.synthesis_transform] + self.priors
            + self.modulation + self.demodulation)

  @property
  def rate_points(self):
    return self.lmbdas

  def _bottleneck_index(self, rate):
    """Index of the trained lambda nearest (in log) to each rate."""
    distance = tf.abs(tf.math.log(rate[:, None])
                      - tf.math.log(tf.constant(self.lmbdas))[None, :])
    return tf.argmin(distance, axis=1, output_type=tf.int32)


class ScaledBottleneck(LambdaKnob, base.LambdaInit,
                       hyperprior.MeanScaleHyperprior):
  """The paper's baseline: per-lambda latent scales on a frozen autoencoder
  (`scales_only=False` trains everything, for ablations)."""

  family = "scaled-bottleneck"

  def __init__(self, lmbdas=DEFAULT_LMBDAS, num_filters=128, latent_depth=192,
               entropy_model="gaussian", training="joint", scales_only=True,
               gain_init="lambda", name=None):
    self._set_lambdas(lmbdas, training)
    super().__init__(lmbda=self.lmbdas[0], num_filters=num_filters,
                     latent_depth=latent_depth, entropy_model=entropy_model,
                     name=name)
    self.scales_only = bool(scales_only)
    self._start_scales("gain_init", gain_init, "ones")

  def around_latent(self, codec):
    levels = len(self.lmbdas)
    return latent_codecs.GainCodec(
        codec, gain.GainUnit(levels, self.latent_depth, name="scale"),
        gain.GainUnit(levels, self.latent_depth, name="inverse_scale"),
        level=self.level, name="scaled")

  @property
  def latent_gains(self):
    return self.latent_codec.gain, self.latent_codec.inverse_gain

  def legacy_components(self):
    return super().legacy_components() + list(self.latent_gains)

  def get_config(self):
    return self._config(entropy_model=self.entropy_model,
                        scales_only=self.scales_only, gain_init=self.gain_init)

  def trained_variables(self):
    if not self.scales_only:
      return super().trained_variables()
    return [w for unit in self.latent_gains for w in unit.trainable_variables]
