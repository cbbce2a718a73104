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

  # The codecs' tables are concatenated (string by string), so that they
  # are the same for every rate; each codec's indexes are shifted to its own.

  def _bases(self, k):
    """Where each codec's tables of string k start in the concatenation."""
    sizes = [tf.size(c.cdf_tables()[k][1]) for c in self.codecs]
    return tf.cumsum(sizes, exclusive=True)

  def _select(self, rate, branch):
    """branch(i, codec) of the codec of the (one image's) rate."""
    return tf.switch_case(self.index(rate)[0], [
        lambda i=i, c=c: branch(i, c) for i, c in enumerate(self.codecs)])

  def symbols(self, y, rate):
    """One image (the coder's batch): its codec's symbols and y_hat."""
    def branch(i, codec):
      coded, y_hat = codec.symbols(y, rate)
      return tuple((symbols, indexes + self._bases(k)[i])
                   for k, (symbols, indexes) in enumerate(coded)), y_hat
    return self._select(rate, branch)

  def decode_indexes(self, known, shape, rate):
    k = self.num_strings - len(known) - 1
    return self._select(rate, lambda i, codec: codec.decode_indexes(
        known, shape, rate) + self._bases(k)[i])

  def dequantize(self, symbols, shape, rate):
    return self._select(
        rate, lambda i, codec: codec.dequantize(symbols, shape, rate))

  def cdf_tables(self):
    return tuple(
        tuple(tf.concat([c.cdf_tables()[k][j] for c in self.codecs], 0)
              for j in range(2))
        for k in range(self.num_strings))

  @property
  def format_versions(self):
    return tuple(sorted(set.intersection(
        *(set(codec.format_versions) for codec in self.codecs))))

  def build_coders(self, tables=None, fixed_point=True):
    for i, codec in enumerate(self.codecs):
      codec.build_coders(base.unprefixed(tables, f"{i}_"), fixed_point)

  def coder_tables(self):
    tables = {}
    for i, codec in enumerate(self.codecs):
      tables.update(base.prefixed(codec.coder_tables(), f"{i}_"))
    return tables
