"""The latent codec contract."""

import tensorflow as tf

from tfvrc import bitstream
from tfvrc.entropy import indexed_coding


class LatentCodec(tf.keras.layers.Layer):
  """Codes a latent y (NHWC, float32) given the model's rate knob [batch].

  Subclasses set `num_strings` and implement the methods below. Latent
  codecs compute in float32 under any precision policy: they hold the
  entropy models, and the coder's tables must not depend on it.

  A codec of tfc entropy models implements coding as integers and tables
  (`symbols`, `decode_indexes`, `dequantize`, `cdf_tables`), and `compress` /
  `decompress` here range-code them. That split is what a serving
  deployment runs apart: the integers on the server, the range coding on
  the client (`tfvrc.serving`). Its strings are decoded last to first (a
  side latent's before the latent it parameterises).
  """

  num_strings = None
  # The container versions (`tfvrc.bitstream`) whose files this codec
  # decodes; it writes the newest. Versions 1 and 2 were written with table
  # indexes from float networks, version 3 from fixed-point ones
  # (`layers.fixed_point`); a codec whose tables no network picks reads all.
  format_versions = (bitstream.FLOAT_TABLE_VERSIONS
                     + bitstream.FIXED_POINT_VERSIONS)

  def __init__(self, name=None):
    super().__init__(name=name, dtype="float32")

  def forward(self, y, rate, training):
    """(y_hat, bits per image): noisy in training, else quantized as an
    estimate."""
    raise NotImplementedError

  def quantized_forward(self, y, rate):
    """(y_hat, estimated bits per image) exactly as `compress` quantizes."""
    raise NotImplementedError

  def compress(self, y, rate):
    """(tuple of `num_strings` (batch,) strings, y_hat as decoded)."""
    coded, y_hat = self.symbols(y, rate)
    strings = tuple(indexed_coding.encode(cdf, cdf_offset, symbols, indexes)
                    for (symbols, indexes), (cdf, cdf_offset)
                    in zip(coded, self.cdf_tables()))
    return strings, y_hat

  def decompress(self, strings, shape, rate):
    """y_hat from `strings` for a latent of spatial `shape` (2,)."""
    tables = self.cdf_tables()
    known = ()
    for k in reversed(range(self.num_strings)):
      indexes = self.decode_indexes(known, shape, rate)
      known = (indexed_coding.decode(*tables[k], indexes, strings[k]),
               *known)
    return self.dequantize(known, shape, rate)

  def symbols(self, y, rate):
    """(per string, (int32 symbols, int32 table indexes)), y_hat."""
    raise NotImplementedError

  def decode_indexes(self, known, shape, rate):
    """The table indexes of string `num_strings - len(known) - 1`, given the
    symbols `known` of the strings after it."""
    raise NotImplementedError

  def dequantize(self, symbols, shape, rate):
    """y_hat from the symbols of every string."""
    raise NotImplementedError

  def cdf_tables(self):
    """Per string, the (cdf, cdf_offset) its indexes point into: the same
    for every rate."""
    raise NotImplementedError

  def build_coders(self, tables=None, fixed_point=True):
    """Builds the range coders, from `tables` (`coder_tables`) if given.
    With `fixed_point`, the networks that pick tables run in fixed point
    where the codec can (format version 3); else in float, as versions 1
    and 2 were written."""
    raise NotImplementedError

  def coder_tables(self):
    """{name: array} that rebuild the coders without a search."""
    return {}


def unwrapped(codec, cls):
  """The first codec of type `cls` in `codec` and the codecs it wraps
  (`inner`), e.g. the hyperprior inside a gain wrapper."""
  while not isinstance(codec, cls):
    codec = codec.inner
  return codec


def prefixed(tables, prefix):
  """`tables` with every key prefixed, to nest a codec's tables."""
  return {f"{prefix}{k}": v for k, v in tables.items()}


def unprefixed(tables, prefix):
  """The entries of `tables` under `prefix`, with it removed (None: none)."""
  if tables is None:
    return None
  return {k[len(prefix):]: v for k, v in tables.items()
          if k.startswith(prefix)}
