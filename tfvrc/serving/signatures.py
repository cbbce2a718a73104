"""The server half: a SavedModel whose signatures compute a model's coding
integers with stock TensorFlow ops, in TF Serving's `NAME/VERSION/` layout.

Signatures (the strings of a full file are numbered k = 0, 1, ...: a
layered family's `num_strings` per layer, layer after layer; string k's
symbols and table indexes are int32 [height, width, channels] of its latent):
  analyze(image, rate) -> symbols_k, indexes_k for every k (serving_default;
    a layered family codes its first `rate` layers, the later strings'
    symbols and indexes are empty)
  indexes_k(shape, rate, symbols_j for the j before k in `decode_order`)
    -> indexes: the tables of string k
  A context string k (`context_strings`: its coder is the context model's
  step, run between range-coder calls) has instead phi_k in `analyze`,
    hyper_k(shape, rate, symbols_j ...) -> phi, the hyper-synthesis output,
    step_k(taps, phi, channels, minmax) -> pmfs of a wavefront step's
    positions (`latent_codecs.context`), the client coding it
    (`context.encode_latent` / `decode_latent`)
  synthesize(shape, rate, every symbols_k) -> image; a layered family has
    synthesize_L for L layers instead, taking the first L layers' symbols
  describe(protocol) -> the file header's identity (model_name,
    weights_digest in hex, rate_range, default_rate, rate_points,
    num_strings, max_layers, format_versions), the decode order
    (decode_order), the context strings (context_strings) and the range
    coder's tables (cdf_k, cdf_offset_k; empty for a context string). TF
    Serving's REST API refuses signatures without inputs, so it takes the
    client's protocol version and checks it.

`export` writes them as a SavedModel; `freeze` as one GraphDef per signature
(weights as constants), which the command line's cache holds.
"""

import functools
import json
import os
import types

import tensorflow as tf
from tensorflow.python.framework import convert_to_constants

from tfvrc import io
from tfvrc.models import base
from tfvrc.serving.protocol import FROZEN_INDEX
from tfvrc.serving.protocol import PROTOCOL
from tfvrc.serving.protocol import synthesize_name

PROTOCOL_SPEC = tf.TensorSpec((), tf.int32, name="protocol")


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
          f"{codec.codec_name} ({model.family}) has no serving split")
    self.num_strings = model.num_strings * model.max_layers
    self.order = tuple(model.decode_order())
    self.identity = dict(
        model_name=tf.constant(codec.codec_name),
        weights_digest=tf.constant(codec.digest.hex()),
        rate_range=tf.constant(model.rate_range, tf.float32),
        default_rate=tf.constant(model.default_rate, tf.float32),
        rate_points=tf.constant(model.rate_points or [], tf.float32),
        num_strings=tf.constant(model.num_strings, tf.int32),
        max_layers=tf.constant(model.max_layers, tf.int32),
        format_versions=tf.constant(model.format_versions, tf.int32),
        decode_order=tf.constant(self.order, tf.int32),
        context_strings=tf.constant(model.context_strings, tf.int32,
                                    shape=[len(model.context_strings)]))
    self.tables = [tuple(tf.Variable(t, trainable=False) for t in pair)
                   for pair in model.cdf_tables()]
    self.analyze = tf.function(self._analyze, input_signature=[
        base.IMAGE_SPEC, base.RATE_SPEC])
    self.synthesize = {
        synthesize_name(layers, model.max_layers): tf.function(
            self._synthesize, input_signature=[
                base.SHAPE_SPEC, base.RATE_SPEC,
                *[symbols_spec(k)
                  for k in range(model.num_strings * layers)]])
        for layers in range(1, model.max_layers + 1)}
    self.indexes = [
        tf.function(functools.partial(self._indexes, k), input_signature=[
            base.SHAPE_SPEC, base.RATE_SPEC,
            *[symbols_spec(j) for j in self._before(k)]])
        for k in range(self.num_strings)]
    step_specs = [tf.TensorSpec([None, None], tf.float32, name="taps"),
                  tf.TensorSpec([None, None], tf.float32, name="phi"),
                  tf.TensorSpec([None], tf.int32, name="channels"),
                  tf.TensorSpec([], tf.int32, name="minmax")]
    self.steps = {f"step_{k}": tf.function(self._step,
                                           input_signature=step_specs)
                  for k in model.context_strings}
    self.describe = tf.function(self._describe,
                                input_signature=[PROTOCOL_SPEC])

  def _before(self, k):
    """The strings decoded before string k."""
    return self.order[:self.order.index(k)]

  @property
  def model(self):
    return self._untracked.model

  def _batched(self, rate, tensors):
    """`tensors` with a batch axis of one, once `rate` is checked."""
    with tf.control_dependencies(self.model._assert_rate(rate)):  # pylint: disable=protected-access
      return tuple(tf.identity(t)[None] for t in tensors)

  def _analyze(self, image, rate):
    x, = self._batched(rate, [tf.cast(image, tf.float32)])
    coded = self.model.analyze(x, tf.reshape(rate, [1]))
    outputs = {}
    for k, (symbols, indexes) in enumerate(coded):
      outputs[f"symbols_{k}"] = symbols[0]
      outputs[f"{self._tables_name(k)}_{k}"] = indexes[0]
    return outputs

  def _tables_name(self, k):
    """What string k's coder needs: its table indexes, or phi."""
    return "phi" if k in self.model.context_strings else "indexes"

  def _indexes(self, k, shape, rate, *known):
    known = dict(zip(self._before(k), self._batched(rate, known)))
    indexes = self.model.decode_indexes(k, known, shape,
                                        tf.reshape(rate, [1]))
    return {self._tables_name(k): indexes[0]}

  def _step(self, taps, phi, channels, minmax):
    return {"pmfs": self.model.context_step(taps, phi, channels, minmax)}

  def _synthesize(self, shape, rate, *symbols):
    symbols = self._batched(rate, symbols)
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
                  "describe": self.describe.get_concrete_function()}
    for name, function in self.synthesize.items():
      signatures[name] = function.get_concrete_function()
    for k, function in enumerate(self.indexes):
      name = "hyper" if k in self.model.context_strings else "indexes"
      signatures[f"{name}_{k}"] = function.get_concrete_function()
    for name, function in self.steps.items():
      signatures[name] = function.get_concrete_function()
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
  with io.atomic_folder(path) as staging:
    tf.saved_model.save(module, staging, signatures=module.signatures())
  return path


def freeze(codec, path):
  """Writes the signatures of `codec` to the folder `path` as frozen
  GraphDefs, `NAME.pb` each, and their sizes and tensors' names to
  `FROZEN_INDEX` (`backends.Frozen` runs them). Staged and renamed like
  `export`; an existing `path` is replaced."""
  index = {}
  os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o777,
              exist_ok=True)
  with io.atomic_folder(path) as staging:
    # The module stays referenced: the functions hold its variables weakly.
    module = ServingModule(codec)
    for name, function in module.signatures().items():
      if name == "serving_default":  # analyze's alias
        continue
      # Loops stay functional: lowered to v1 control flow, the graphs
      # loaded 2.6 times slower (`experiments/speed/README.md`).
      frozen = convert_to_constants.convert_variables_to_constants_v2(
          function, lower_control_flow=False)
      with open(os.path.join(staging, name + ".pb"), "wb") as f:
        f.write(frozen.graph.as_graph_def().SerializeToString())
      # Inputs are placeholders named after their specs; outputs are in
      # the order of their sorted names (tf.nest's order of a dict).
      index[name] = dict(
          bytes=os.path.getsize(os.path.join(staging, name + ".pb")),
          inputs={t.name.split(":")[0]: t.name for t in frozen.inputs},
          outputs=dict(zip(sorted(function.structured_outputs),
                           (t.name for t in frozen.outputs))))
    with open(os.path.join(staging, FROZEN_INDEX), "w",
              encoding="utf-8") as f:
      json.dump(index, f, indent=1)
