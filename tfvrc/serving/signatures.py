"""The server half: a SavedModel whose signatures compute a model's coding
integers with stock TensorFlow ops, in TF Serving's `NAME/VERSION/` layout.

Signatures (n = the model's strings per file; string k's symbols and table
indexes are int32 [height, width, channels] of its latent):
  analyze(image, rate) -> symbols_k, indexes_k for every k (serving_default)
  indexes_k(shape, rate, symbols_{k+1} .. symbols_{n-1}) -> indexes: the
    tables of string k, given the symbols decoded after it (a client decodes
    the strings last to first)
  synthesize(shape, rate, symbols_0 .. symbols_{n-1}) -> image
  describe(protocol) -> the file header's identity (model_name,
    weights_digest in hex, rate_range, default_rate, rate_points, num_strings)
    and the range coder's tables (cdf_k, cdf_offset_k). TF Serving's REST API
    refuses signatures without inputs, so it takes the client's protocol
    version and checks it.
"""

import os
import shutil
import tempfile
import types

import tensorflow as tf

from tfvrc import io
from tfvrc.models import base

PROTOCOL = 1  # what `describe` checks: bump when the signatures change
PROTOCOL_SPEC = tf.TensorSpec((), tf.int32, name="protocol")


def only_output(signature):
  """The output of a signature that has one (TF Serving's REST API answers
  those with the bare value)."""
  return "image" if signature == "synthesize" else "indexes"


def symbols_spec(k):
  return tf.TensorSpec((None, None, None), tf.int32, name=f"symbols_{k}")


class ServingModule(tf.Module):
  """The signatures of one `coding.Codec` whose model has `serving_split`."""

  def __init__(self, codec):
    super().__init__(name="tfvrc_serving")
    model = codec.model
    # The model itself is not tracked: its own tf.functions hold the range
    # coder's custom ops. Its variables are, so the signatures can use them.
    self._untracked = types.SimpleNamespace(model=model)
    self.model_variables = list(model.variables)
    if not model.serving_split:
      raise ValueError(
          f"{codec.codec_name} ({model.family}) has no serving split yet: "
          "its decoder needs the range coder between its networks' steps "
          "(see the README's 'SavedModel and serving')")
    self.num_strings = model.num_strings
    self.identity = dict(
        model_name=tf.constant(codec.codec_name),
        weights_digest=tf.constant(codec.digest.hex()),
        rate_range=tf.constant(model.rate_range, tf.float32),
        default_rate=tf.constant(model.default_rate, tf.float32),
        rate_points=tf.constant(model.rate_points or [], tf.float32),
        num_strings=tf.constant(model.num_strings, tf.int32))
    self.tables = [tuple(tf.Variable(t, trainable=False) for t in pair)
                   for pair in model.cdf_tables()]
    self.analyze = tf.function(self._analyze, input_signature=[
        base.IMAGE_SPEC, base.RATE_SPEC])
    self.synthesize = tf.function(self._synthesize, input_signature=[
        base.SHAPE_SPEC, base.RATE_SPEC,
        *[symbols_spec(k) for k in range(self.num_strings)]])
    self.indexes = [
        tf.function(self._indexes, input_signature=[
            base.SHAPE_SPEC, base.RATE_SPEC,
            *[symbols_spec(j) for j in range(k + 1, self.num_strings)]])
        for k in range(self.num_strings)]
    self.describe = tf.function(self._describe,
                                input_signature=[PROTOCOL_SPEC])

  @property
  def model(self):
    return self._untracked.model

  def _analyze(self, image, rate):
    with tf.control_dependencies(self.model._assert_rate(rate)):  # pylint: disable=protected-access
      x = tf.cast(image, tf.float32)[None]
    coded = self.model.analyze(x, tf.reshape(rate, [1]))
    outputs = {}
    for k, (symbols, indexes) in enumerate(coded):
      outputs[f"symbols_{k}"] = symbols[0]
      outputs[f"indexes_{k}"] = indexes[0]
    return outputs

  def _indexes(self, shape, rate, *known):
    with tf.control_dependencies(self.model._assert_rate(rate)):  # pylint: disable=protected-access
      known = tuple(tf.identity(s)[None] for s in known)
    indexes = self.model.decode_indexes(known, shape, tf.reshape(rate, [1]))
    return {"indexes": indexes[0]}

  def _synthesize(self, shape, rate, *symbols):
    with tf.control_dependencies(self.model._assert_rate(rate)):  # pylint: disable=protected-access
      symbols = tuple(tf.identity(s)[None] for s in symbols)
    x_hat = self.model.synthesize(symbols, shape, tf.reshape(rate, [1]))
    return {"image": base.to_uint8(x_hat[0, :shape[0], :shape[1], :])}

  def _describe(self, protocol):
    with tf.control_dependencies([tf.debugging.assert_equal(
        protocol, PROTOCOL, "this server speaks tfvrc serving protocol "
        f"{PROTOCOL}")]):
      outputs = {k: tf.identity(v) for k, v in self.identity.items()}
    for k, (cdf, cdf_offset) in enumerate(self.tables):
      outputs[f"cdf_{k}"] = tf.identity(cdf)
      outputs[f"cdf_offset_{k}"] = tf.identity(cdf_offset)
    return outputs

  def signatures(self):
    analyze = self.analyze.get_concrete_function()
    signatures = {"serving_default": analyze, "analyze": analyze,
                  "synthesize": self.synthesize.get_concrete_function(),
                  "describe": self.describe.get_concrete_function()}
    for k, function in enumerate(self.indexes):
      signatures[f"indexes_{k}"] = function.get_concrete_function()
    return signatures


def next_version(folder):
  """TF Serving serves the largest numeric version: one above it."""
  versions = [int(v) for v in os.listdir(folder) if v.isdigit()] if (
      os.path.isdir(folder)) else []
  return max(versions, default=0) + 1


def export(codec, folder, version=None):
  """Writes the serving SavedModel of `codec` to `folder/NAME/VERSION/` (the
  next version by default; an existing version is refused) and returns that
  path. Written into a staging folder and renamed, so TF Serving, which
  watches the folder, never sees half a model."""
  module = ServingModule(codec)  # refuses a family without a serving split
  model_folder = os.path.join(folder, codec.codec_name)
  version = next_version(model_folder) if version is None else int(version)
  path = os.path.join(model_folder, str(version))
  if os.path.exists(path):
    raise FileExistsError(f"{path} exists: give another --version")
  os.makedirs(model_folder, mode=0o777, exist_ok=True)
  staging = tempfile.mkdtemp(dir=model_folder, prefix=".staging-")
  os.chmod(staging, 0o777 & ~io.current_umask())  # mkdtemp makes it 0700
  try:
    tf.saved_model.save(module, staging, signatures=module.signatures())
    os.replace(staging, path)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return path
