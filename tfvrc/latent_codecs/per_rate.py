"""One latent codec per trained rate, chosen by the rate knob (the released
modulated autoencoder's one entropy bottleneck per lambda)."""

import tensorflow as tf

from tfvrc.latent_codecs import base


class PerRateCodec(base.LatentCodec):
  """`codecs[index(rate)]` codes each image; `index` maps rates [batch] to
  codec indexes [batch] (int32)."""

  def __init__(self, codecs, index, name="per_rate"):
    super().__init__(name=name)
    self.codecs = list(codecs)
    self.index = index
    self.num_strings = self.codecs[0].num_strings

  def _selected(self, results, rate):
    """Each image's (y_hat, bits) from its own codec's `results`."""
    select = tf.one_hot(self.index(rate), len(self.codecs))
    y_hat = sum(select[:, i, None, None, None] * r[0]
                for i, r in enumerate(results))
    bits = sum(select[:, i] * r[1] for i, r in enumerate(results))
    return y_hat, bits

  def forward(self, y, rate, training):
    return self._selected(
        [c.forward(y, rate, training) for c in self.codecs], rate)

  def quantized_forward(self, y, rate):
    return self._selected(
        [c.quantized_forward(y, rate) for c in self.codecs], rate)

  def compress(self, y, rate):
    """One image (the coder's batch): its codec's strings and y_hat."""
    return tf.switch_case(self.index(rate)[0], [
        lambda c=c: c.compress(y, rate) for c in self.codecs])

  def decompress(self, strings, shape, rate):
    return tf.switch_case(self.index(rate)[0], [
        lambda c=c: c.decompress(strings, shape, rate) for c in self.codecs])

  def build_coders(self, tables=None):
    for i, codec in enumerate(self.codecs):
      codec.build_coders(base.unprefixed(tables, f"{i}_"))

  def coder_tables(self):
    tables = {}
    for i, codec in enumerate(self.codecs):
      tables.update(base.prefixed(codec.coder_tables(), f"{i}_"))
    return tables
