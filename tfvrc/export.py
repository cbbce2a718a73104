"""SavedModel export of a codec, and loading one back as a codec.

The SavedModel is a plain `tf.Module`: `compress(image, rate)` and
`decompress(shape, rate, *strings)` signatures plus the identity the file
header needs (`model_name`, `weights_digest`, `rate_range`, `default_rate`,
`rate_points` (empty for any rate in the range), `num_strings`,
`format_versions`: the container versions it decodes). It tracks the
model's variables, including the range-coding tables, so no Python class is
needed to load it: `tf.saved_model.load` after `import tensorflow_compression`
(whose custom ops do the range coding).
"""

import os

import tensorflow as tf

from tfvrc import bitstream
from tfvrc import io


class CodecModule(tf.Module):
  """What `tfvrc export` saves."""

  def __init__(self, codec):
    super().__init__(name="tfvrc_codec")
    model = codec.model
    self.model_variables = list(model.variables)
    self.model_name = tf.Variable(codec.codec_name, trainable=False)
    self.weights_digest = tf.Variable(codec.digest, trainable=False)
    self.rate_range = tf.Variable(model.rate_range, dtype=tf.float32,
                                  trainable=False)
    self.default_rate = tf.Variable(model.default_rate, dtype=tf.float32,
                                    trainable=False)
    self.rate_points = tf.Variable(model.rate_points or [], dtype=tf.float32,
                                   shape=[None], trainable=False)
    self.num_strings = tf.Variable(model.num_strings, trainable=False)
    self.format_versions = tf.Variable(model.format_versions,
                                       dtype=tf.int32, trainable=False)
    self.compress = tf.function(
        model.compress.python_function,
        input_signature=model.compress.input_signature)
    self.decompress = tf.function(
        model.decompress.python_function,
        input_signature=model.decompress.input_signature)


def export(codec, path, force=False):
  """Writes a `coding.Codec` to the folder `path`: into a staging folder
  beside it, then renamed, so a failure never leaves half a SavedModel; an
  existing `path` is replaced only with `force`. Only a family whose coding
  is all graph ops (`graph_coding`) can be exported."""
  if not codec.graph_coding:
    raise ValueError(f"{codec.codec_name} ({codec.model.family}) codes "
                     "eagerly in Python: it cannot be exported as a "
                     "SavedModel")
  if os.path.exists(path) and not force:
    raise FileExistsError(f"{path} exists (use --force to overwrite)")
  module = CodecModule(codec)
  with io.atomic_folder(path) as staging:
    tf.saved_model.save(module, staging, signatures={
        "compress": module.compress.get_concrete_function(),
        "decompress": module.decompress.get_concrete_function()})


class SavedModelCodec:
  """A SavedModel written by `export`, with the codec interface of `coding`."""

  def __init__(self, path):
    import tensorflow_compression  # pylint: disable=import-outside-toplevel,unused-import
    try:
      self.module = tf.saved_model.load(path)
      self.codec_name = self.module.model_name.numpy().decode()
    except (OSError, ValueError, AttributeError) as e:
      raise ValueError(f"{path} is not a tfvrc SavedModel ({e})") from None
    self.digest = self.module.weights_digest.numpy()
    self.rate_range = tuple(float(r) for r in self.module.rate_range.numpy())
    self.default_rate = float(self.module.default_rate.numpy())
    self.rate_points = tuple(float(r) for r in
                             self.module.rate_points.numpy()) or None
    self.num_strings = int(self.module.num_strings.numpy())
    # Exports from before format version 3 have float table paths.
    versions = getattr(self.module, "format_versions", None)
    self.format_versions = (
        bitstream.FLOAT_TABLE_VERSIONS if versions is None
        else tuple(int(v) for v in versions.numpy()))
    self.graph_coding = True
    self.meta = {}  # no weights file behind it
    self.compress = self.module.compress
    self.decompress = self.module.decompress
