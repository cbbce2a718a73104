"""A factorized entropy model of a latent (Ballé et al. 2018's hyper-latent)."""

import tensorflow_compression as tfc

from tfvrc.entropy import gaussian
from tfvrc.latent_codecs import base


class EntropyBottleneck(base.LatentCodec):
  """Each channel coded independently under a learned deep factorized prior."""

  num_strings = 1

  def __init__(self, channels, name="entropy_bottleneck"):
    super().__init__(name=name)
    self.prior = tfc.NoisyDeepFactorized(batch_shape=(channels,))

  def forward(self, y, rate, training):
    del rate
    return gaussian.factorized_model(self.prior)(y, training=training)

  def quantized_forward(self, y, rate):
    del rate
    model = gaussian.factorized_model(self.prior,
                                      self.coder.quantization_offset)
    return model(y, training=False)

  def symbols(self, y, rate):
    del rate
    coded = self.coder.symbols(y)
    return (coded,), self.coder.values(coded[0])

  def decode_indexes(self, known, shape, rate):
    del known, rate
    return self.coder.indexes(shape)

  def dequantize(self, symbols, shape, rate):
    del shape, rate
    return self.coder.values(symbols[0])

  def cdf_tables(self):
    return (self.coder.cdf_table,)

  def build_coders(self, tables=None, fixed_point=True):
    del fixed_point  # no network picks its tables
    self.coder = gaussian.factorized_coder(self.prior, tables or None)

  def coder_tables(self):
    return gaussian.factorized_tables(self.coder)
