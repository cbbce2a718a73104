"""Gain units around a latent codec (Cui et al. 2021): a continuous rate."""

from tfvrc.latent_codecs import base


class GainCodec(base.LatentCodec):
  """Scales y by `gain` before `inner` codes it and by `inverse_gain` after.

  `level` maps the model's rate knob to the gain units' level (default: the
  knob is the level).
  """

  def __init__(self, inner, gain, inverse_gain, level=None, name="gained"):
    super().__init__(name=name)
    self.gain = gain
    self.inverse_gain = inverse_gain
    self.inner = inner
    self.num_strings = inner.num_strings
    self.level = level or (lambda rate: rate)

  def _around(self, code, y, rate):
    """inverse_gain(y_hat), extras: `code` applied to gain(y)."""
    y_hat, *extras = code(self.gain(y, self.level(rate)))
    return (self.inverse_gain(y_hat, self.level(rate)), *extras)

  def forward(self, y, rate, training):
    return self._around(
        lambda y: self.inner.forward(y, rate, training), y, rate)

  def quantized_forward(self, y, rate):
    return self._around(
        lambda y: self.inner.quantized_forward(y, rate), y, rate)

  # Coding delegates to `inner` whole: it may range-code its own way (the
  # context codec does).

  def compress(self, y, rate):
    strings, y_hat = self.inner.compress(self.gain(y, self.level(rate)), rate)
    return strings, self.inverse_gain(y_hat, self.level(rate))

  def decompress(self, strings, shape, rate):
    return self.inverse_gain(self.inner.decompress(strings, shape, rate),
                             self.level(rate))

  def symbols(self, y, rate):
    coded, y_hat = self.inner.symbols(self.gain(y, self.level(rate)), rate)
    return coded, self.inverse_gain(y_hat, self.level(rate))

  def decode_indexes(self, known, shape, rate):
    return self.inner.decode_indexes(known, shape, rate)

  def dequantize(self, symbols, shape, rate):
    return self.inverse_gain(self.inner.dequantize(symbols, shape, rate),
                             self.level(rate))

  def cdf_tables(self):
    return self.inner.cdf_tables()

  @property
  def format_versions(self):
    return self.inner.format_versions

  def build_coders(self, tables=None, fixed_point=True):
    self.inner.build_coders(tables, fixed_point)

  def coder_tables(self):
    return self.inner.coder_tables()
