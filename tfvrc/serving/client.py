"""The client half: range-codes what a serving model's signatures return
into ordinary .tfvrc files, and back.

A `Client` is a codec in the sense of `tfvrc.coding`, so files go through the
same `coding.encode` / `coding.decode` as with a local model (same header
checks, same errors), and a file written through a server is byte for byte
the file `tfvrc compress` writes with the same model and rate.
"""

import numpy as np
import tensorflow as tf

from tfvrc import bitstream
from tfvrc.entropy import indexed_coding
from tfvrc.serving import protocol


class Client:
  """A serving model behind `backend` (`tfvrc.serving.backends`), with the
  codec interface of `tfvrc.coding`: `coding.encode(client, image, rate)`
  and `coding.decode(client, data)`."""

  graph_coding = False  # strings are bytes
  meta = {}

  def __init__(self, backend):
    self.backend = backend
    info = backend.predict("describe", {
        "protocol": np.int32(protocol.PROTOCOL)})
    self.codec_name = _text(info["model_name"])
    self.digest = bytes.fromhex(_text(info["weights_digest"]))
    self.rate_range = tuple(float(r) for r in np.ravel(info["rate_range"]))
    self.default_rate = float(info["default_rate"])
    self.rate_points = tuple(
        float(r) for r in np.ravel(info["rate_points"])) or None
    self.num_strings = int(info["num_strings"])
    self.max_layers = int(info["max_layers"])
    # Servers from before format version 3 have float table paths.
    self.format_versions = tuple(
        int(v) for v in np.ravel(info.get("format_versions",
                                          bitstream.FLOAT_TABLE_VERSIONS)))
    self.order = [int(k) for k in np.ravel(info["decode_order"])]
    self.context_strings = [int(k) for k in np.ravel(
        info.get("context_strings", []))]
    self.tables = [(np.asarray(info[f"cdf_{k}"], np.int32),
                    np.asarray(info[f"cdf_offset_{k}"], np.int32))
                   for k in range(len(self.order))]

  def _layers(self, rate):
    """How many layers a file coded at `rate` holds."""
    return int(rate) if self.max_layers > 1 else 1

  def compress(self, image, rate):
    """The payload strings (bytes) of one uint8 image."""
    coded = self.backend.predict("analyze", {
        "image": np.asarray(image, np.uint8), "rate": np.float32(rate)})
    return [self._encode_context(k, coded[f"symbols_{k}"], coded[f"phi_{k}"])
            if k in self.context_strings else
            self._encode(k, coded[f"symbols_{k}"], coded[f"indexes_{k}"])
            for k in range(self.num_strings * self._layers(rate))]

  def decompress(self, shape, rate, *strings):
    """The uint8 image of payload `strings` (bytes), decoded in the model's
    decode order: each string's tables come from the symbols before it."""
    common = {"shape": np.asarray(shape, np.int32),
              "rate": np.float32(rate)}
    symbols = {}
    for k in self.order[:len(strings)]:  # a prefix of layers: a prefix
      if k in self.context_strings:
        phi = self.backend.predict(f"hyper_{k}", {**common, **symbols})
        symbols[f"symbols_{k}"] = self._decode_context(k, phi["phi"],
                                                       strings[k])
        continue
      indexes = self.backend.predict(f"indexes_{k}", {**common, **symbols})
      symbols[f"symbols_{k}"] = self._decode(k, indexes["indexes"],
                                             strings[k])
    image = self.backend.predict(
        protocol.synthesize_name(len(strings) // self.num_strings,
                                 self.max_layers), {**common, **symbols})
    return tf.constant(np.asarray(image["image"], np.uint8))

  def _encode(self, k, symbols, indexes):
    return indexed_coding.encode(
        *self.tables[k], np.asarray(symbols, np.int32)[None],
        np.asarray(indexes, np.int32)[None]).numpy()[0]

  def _decode(self, k, indexes, string):
    return indexed_coding.decode(
        *self.tables[k], np.asarray(indexes, np.int32)[None],
        tf.constant([string])).numpy()[0]

  # A context string is coded here with the server's context-model step
  # between range-coder calls: one request per wavefront step (141 on a
  # Kodak latent). The coding is `latent_codecs.context`'s, imported only
  # here: it brings tensorflow_compression, which other clients never load.

  def _step(self, k):
    def step(taps, phi, channels, minmax):
      pmfs = np.asarray(self.backend.predict(f"step_{k}", {
          "taps": np.asarray(taps, np.float32),
          "phi": np.asarray(phi, np.float32),
          "channels": np.asarray(channels, np.int32),
          "minmax": np.int32(minmax)})["pmfs"])
      # Integer masses (format version 3) stay integers.
      return (pmfs if np.issubdtype(pmfs.dtype, np.integer)
              else pmfs.astype(np.float32))
    return step

  def _encode_context(self, k, symbols, phi):
    from tfvrc.latent_codecs import context  # pylint: disable=import-outside-toplevel
    return context.encode_latent(np.asarray(symbols, np.int32),
                                 np.asarray(phi, np.float32),
                                 self._step(k))[0]

  def _decode_context(self, k, phi, string):
    from tfvrc.latent_codecs import context  # pylint: disable=import-outside-toplevel
    return context.decode_latent(string, np.asarray(phi, np.float32),
                                 self._step(k)).astype(np.int32)


def _text(value):
  value = np.asarray(value).item()
  return value.decode() if isinstance(value, bytes) else str(value)
