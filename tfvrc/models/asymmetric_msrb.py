"""Asymmetric MSRB codec (Fu et al. 2022, on Cheng et al. CVPR 2020).

analysis (three MSRB stages, attention, importance map) -> a context +
hyperprior latent codec with a discretized mixture likelihood, coded with
the `range-coder` package (`latent_codecs.ContextCodec`) -> post-quantization
filter -> synthesis with one MSRB stage (`decoder_msrbs=1`, the asymmetric
design) or three (`decoder_msrbs=3`, its symmetric twin). y and z have
`num_filters` channels, as in Cheng's and Fu's code.

Fixed rate per lambda like the paper (`asymmetric_msrb`), or, as
`asymmetric_msrb-gained`, gain units around the latent codec (Cui et al.)
for a continuous rate over `lmbdas`. `importance_map` and `pqf` switch the
paper's two additions off for its ablations. The PQF is trained by the RD
loss alone: the paper's auxiliary ||PQF(y_hat) - y||^2 term is left out.
"""

import tensorflow as tf

from tfvrc import latent_codecs
from tfvrc.entropy import mixture as mixture_lib
from tfvrc.layers import gain
from tfvrc.layers import msrb
from tfvrc.models import base
from tfvrc.models import gained
from tfvrc.models import hyperprior
from tfvrc.models import vae

DECODER_MSRB_STAGES = {1: (2,), 3: (1, 2, 3)}


class AsymmetricMSRB(hyperprior.FixedLambda, vae.VAE):
  """Fu et al.'s codec at one lambda."""

  family = "asymmetric_msrb"
  num_strings = 2  # y's (range-coder bytes), z's
  graph_coding = False
  # y's string is coded by a client with the server's context-model step
  # between range-coder calls (`context.encode_latent`; README, serving).
  context_strings = (0,)
  # Coding runs the transforms in tiles (`vae.VAE`) with this much context:
  # the analysis reaches 145 pixels and the PQF + synthesis 11 latent
  # samples (176 pixels; measured by gradients, symmetric twin included).
  tile_margin = 192

  def __init__(self, lmbda=0.0067, num_filters=128, decoder_msrbs=1,
               importance_map=True, pqf=True, mixture="gaussian", name=None):
    super().__init__(name=name)
    if decoder_msrbs not in DECODER_MSRB_STAGES:
      raise ValueError(f"decoder_msrbs must be 1 or 3, got {decoder_msrbs}")
    if mixture not in mixture_lib.FAMILIES:
      raise ValueError(f"mixture must be one of "
                       f"{', '.join(mixture_lib.FAMILIES)}, got {mixture!r}")
    self._lmbda = float(lmbda)
    self.num_filters = num_filters
    self.decoder_msrbs = decoder_msrbs
    self.importance_map = bool(importance_map)
    self.mixture = mixture
    self.analysis_transform = msrb.Analysis(num_filters, importance_map)
    self.pqf = msrb.PostQuantizationFilter() if pqf else None
    self.synthesis_transform = msrb.Synthesis(
        num_filters, DECODER_MSRB_STAGES[decoder_msrbs])
    self.context_codec = latent_codecs.ContextCodec(
        msrb.hyper_analysis(num_filters), msrb.hyper_synthesis(num_filters),
        latent_codecs.EntropyBottleneck(num_filters), num_filters, mixture)
    self.latent_codec = self.around_latent(self.context_codec)
    self.forward(tf.zeros([1, 64, 64, 3]), tf.constant([self.rate_range[0]]),
                 training=True)  # builds every variable

  @property
  def latent_depth(self):
    return self.num_filters  # y has N channels, as in Cheng et al.

  def around_latent(self, codec):
    """The latent codec around the context codec."""
    return codec

  def synthesis(self, y_hat, rate):
    del rate
    if self.pqf is not None:
      y_hat = self.pqf(y_hat)
    return self.synthesis_transform(y_hat)

  def build_coders(self, tables=None, fixed_point=True):
    super().build_coders(tables, fixed_point)
    # Coding runs from Python; its transforms run as graphs (seen on a Kodak
    # image at N=128: synthesis 1.6 s against 2.1 s eagerly), in tiles.
    rate = tf.TensorSpec([1], tf.float32)
    self._analyze = tf.function(self._tiled_analysis, input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.float32), rate])
    self._synthesize = tf.function(self._tiled_synthesis, input_signature=[
        tf.TensorSpec([1, None, None, self.num_filters], tf.float32), rate])

  def encode(self, x, rate):
    strings, _ = self.latent_codec.compress(self._analyze(x, rate), rate)
    return strings

  def decode(self, shape, rate, strings):
    y_hat = self.latent_codec.decompress(
        strings, latent_codecs.hyperprior.latent_shape(shape,
                                                       vae.LATENT_FACTOR),
        rate)
    return self._synthesize(y_hat, rate)

  def context_step(self, taps, phi, channels, minmax):
    """The context model's step (`context.ContextCodec.step`): what a server
    runs between a client's range-coder calls."""
    return self.context_codec.step(taps, phi, channels, minmax)

  def get_config(self):
    return dict(lmbda=self._lmbda, num_filters=self.num_filters,
                decoder_msrbs=self.decoder_msrbs,
                importance_map=self.importance_map, pqf=self.pqf is not None,
                mixture=self.mixture)


class GainedAsymmetricMSRB(gained.GainLevels, base.LambdaInit,
                           AsymmetricMSRB):
  """The same architecture with gain units around its latent codec: one
  model, any rate in [0, L - 1] (an option no paper has)."""

  family = "asymmetric_msrb-gained"

  def __init__(self, lmbdas=gained.DEFAULT_LMBDAS, num_filters=128,
               decoder_msrbs=1, importance_map=True, pqf=True,
               mixture="gaussian", gain_init="lambda", name=None):
    self.lmbdas = tuple(sorted(float(l) for l in lmbdas))
    super().__init__(lmbda=self.lmbdas[0], num_filters=num_filters,
                     decoder_msrbs=decoder_msrbs,
                     importance_map=importance_map, pqf=pqf, mixture=mixture,
                     name=name)
    self._start_scales("gain_init", gain_init, "ones")

  def around_latent(self, codec):
    levels, channels = len(self.lmbdas), self.num_filters
    return latent_codecs.GainCodec(
        codec, gain.GainUnit(levels, channels, name="gain"),
        gain.GainUnit(levels, channels, name="inverse_gain"))

  @property
  def latent_gains(self):
    return self.latent_codec.gain, self.latent_codec.inverse_gain

  def get_config(self):
    config = super().get_config()
    del config["lmbda"]
    return dict(config, lmbdas=list(self.lmbdas), gain_init=self.gain_init)
