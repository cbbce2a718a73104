"""analysis -> latent codec -> synthesis: the coding steps of every VAE-style
family, written once."""

from tfvrc.latent_codecs import hyperprior
from tfvrc.models import base

# The analysis transforms' downsampling: y has 16x fewer samples per side.
LATENT_FACTOR = 16


class VAE(base.CompressionModel):
  """A compressor made of `analysis_transform`, `latent_codec` and
  `synthesis_transform`, which subclasses set. The `analysis` and `synthesis`
  hooks take the rate, for families whose transforms depend on it."""

  def analysis(self, x, rate):
    del rate
    return self.analysis_transform(x)

  def synthesis(self, y_hat, rate):
    del rate
    return self.synthesis_transform(y_hat)

  def forward(self, x, rate, training):
    y_hat, bits = self.latent_codec.forward(self.analysis(x, rate), rate,
                                            training)
    return self.synthesis(y_hat, rate), bits

  def quantized_forward(self, x, rate):
    y_hat, bits = self.latent_codec.quantized_forward(self.analysis(x, rate),
                                                      rate)
    return self.synthesis(y_hat, rate), bits

  def encode(self, x, rate):
    strings, _ = self.latent_codec.compress(self.analysis(x, rate), rate)
    return strings

  def decode(self, shape, rate, strings):
    y_hat = self.latent_codec.decompress(
        strings, hyperprior.latent_shape(shape, LATENT_FACTOR), rate)
    return self.synthesis(y_hat, rate)

  def build_coders(self, tables=None):
    self.latent_codec.build_coders(tables)

  def coder_tables(self):
    return self.latent_codec.coder_tables()
