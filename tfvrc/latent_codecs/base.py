"""The latent codec contract."""

import tensorflow as tf


class LatentCodec(tf.keras.layers.Layer):
  """Codes a latent y (NHWC, float32) given the model's rate knob [batch].

  Subclasses set `num_strings` and implement the methods below. Latent
  codecs compute in float32 under any precision policy: they hold the
  entropy models, and the coder's tables must not depend on it.
  """

  num_strings = None

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
    raise NotImplementedError

  def decompress(self, strings, shape, rate):
    """y_hat from `strings` for a latent of spatial `shape` (2,)."""
    raise NotImplementedError

  def build_coders(self, tables=None):
    """Builds the range coders, from `tables` (`coder_tables`) if given."""
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
