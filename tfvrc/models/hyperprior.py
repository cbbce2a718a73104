"""Mean-scale hyperprior (Minnen et al. 2018, "mbt2018-mean" without context).

The fixed-rate baseline, and the skeleton the variable-rate families extend:
they override the four transform hooks (`analysis`, `hyper_analysis`,
`hyper_synthesis`, `synthesis`), which all take the rate, and the rate methods.
"""

import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc import entropy
from tfvrc.entropy import gaussian
from tfvrc.layers import transforms
from tfvrc.models import base


class MeanScaleHyperprior(base.CompressionModel):
  """Fixed-rate mean-scale hyperprior; its rate knob is its own lambda."""

  family = "hyperprior"
  num_strings = 2  # latent, hyper-latent
  separate_gdn = False  # see transforms: True for modulated subclasses

  def __init__(self, lmbda=0.0067, num_filters=128, latent_depth=192,
               entropy_model="gaussian", name=None):
    super().__init__(name=name)
    self._lmbda = float(lmbda)
    self.num_filters = num_filters
    self.latent_depth = latent_depth
    self.entropy_model = entropy_model
    self.conditional = entropy.conditional(entropy_model)
    self.analysis_transform = transforms.AnalysisTransform(
        num_filters, latent_depth, self.separate_gdn)
    self.synthesis_transform = transforms.SynthesisTransform(
        num_filters, self.separate_gdn)
    self.hyper_analysis_transform = transforms.HyperAnalysisTransform(
        num_filters)
    self.hyper_synthesis_transform = transforms.HyperSynthesisTransform(
        latent_depth, self.conditional.num_params)
    self.hyperprior = tfc.NoisyDeepFactorized(batch_shape=(num_filters,))
    self.build_variables()

  def build_variables(self):
    """Creates every variable from the input shapes (no forward pass)."""
    self.analysis_transform.build((None, None, None, 3))
    self.synthesis_transform.build((None, None, None, self.latent_depth))
    self.hyper_analysis_transform.build((None, None, None, self.latent_depth))
    self.hyper_synthesis_transform.build((None, None, None, self.num_filters))

  def get_config(self):
    return dict(lmbda=self._lmbda, num_filters=self.num_filters,
                latent_depth=self.latent_depth,
                entropy_model=self.entropy_model)

  # --- Rate ----------------------------------------------------------------

  @property
  def rate_range(self):
    return (self._lmbda, self._lmbda)

  def lmbda(self, rate):
    return tf.fill(tf.shape(rate), self._lmbda)

  def sample_rates(self, batch_size):
    return tf.fill([batch_size], self._lmbda)

  # --- Transform hooks -----------------------------------------------------

  def analysis(self, x, rate):
    del rate  # fixed rate
    return self.analysis_transform(x)

  def hyper_analysis(self, y, rate):
    del rate
    return self.hyper_analysis_transform(y)

  def hyper_synthesis(self, z_hat, rate, y_shape):
    """The conditional model's parameters, cropped to the latent's shape."""
    del rate
    params = self.hyper_synthesis_transform(z_hat)
    return params[:, :y_shape[0], :y_shape[1], :]

  def synthesis(self, y_hat, rate):
    del rate
    return self.synthesis_transform(y_hat)

  # --- Training and estimation --------------------------------------------

  def forward(self, x, rate, training):
    conditional = self.conditional(compression=False)
    side = gaussian.factorized_model(self.hyperprior)
    y = self.analysis(x, rate)
    z = self.hyper_analysis(y, rate)
    z_hat, side_bits = side(z, training=training)
    params = self.hyper_synthesis(z_hat, rate, tf.shape(y)[1:3])
    y_hat, bits = conditional(y, params, training=training)
    return self.synthesis(y_hat, rate), bits + side_bits

  # --- Coding --------------------------------------------------------------

  def build_coders(self, tables=None):
    self.conditional_coder = self.conditional(compression=True)
    self.side_coder = gaussian.factorized_coder(self.hyperprior, tables)

  def coder_tables(self):
    return gaussian.factorized_tables(self.side_coder)

  def quantized_forward(self, x, rate):
    y = self.analysis(x, rate)
    z = self.hyper_analysis(y, rate)
    side = gaussian.factorized_model(self.hyperprior,
                                     self.side_coder.quantization_offset)
    z_hat, side_bits = side(z, training=False)
    params = self.hyper_synthesis(z_hat, rate, tf.shape(y)[1:3])
    y_hat, bits = self.conditional_coder(y, params, training=False)
    return self.synthesis(y_hat, rate), bits + side_bits

  def encode(self, x, rate):
    y = self.analysis(x, rate)
    z = self.hyper_analysis(y, rate)
    z_hat = self.side_coder.quantize(z)
    params = self.hyper_synthesis(z_hat, rate, tf.shape(y)[1:3])
    return (self.conditional_coder.compress(y, params),
            self.side_coder.compress(z))

  def decode(self, shape, rate, strings):
    y_string, z_string = strings
    y_shape = base.latent_shape(shape, 16)
    z_hat = self.side_coder.decompress(z_string, base.latent_shape(y_shape, 4))
    params = self.hyper_synthesis(z_hat, rate, y_shape)
    y_hat = self.conditional_coder.decompress(y_string, params)
    return self.synthesis(y_hat, rate)
