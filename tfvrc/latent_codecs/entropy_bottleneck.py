"""A factorized entropy model of a latent (Ballé et al. 2018's hyper-latent)."""

import tensorflow_compression as tfc

from tfvrc.entropy import bounded_decoding
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

  def compress(self, y, rate):
    del rate
    return (self.coder.compress(y),), self.coder.quantize(y)

  def decompress(self, strings, shape, rate):
    del rate
    return bounded_decoding.decode_channels(self.coder, strings[0], shape)

  def build_coders(self, tables=None):
    self.coder = gaussian.factorized_coder(self.prior, tables or None)

  def coder_tables(self):
    return gaussian.factorized_tables(self.coder)
