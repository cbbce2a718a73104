"""Shipped trained models, and the weights file format the trainer writes.

A zoo entry is one `.npz` file (deflated since 2026-12-03, about 9 % smaller;
`np.load` reads either kind): the trainable weights keyed by name
("w/" + `weight_keys`: the Keras layer names from the model down to the layer
holding the weight, then its own name; float16, the model computes in
float32), a `meta` JSON record with the family, the constructor config, the
number of training steps and how it was trained, and, in published entries,
the range-coding tables of exactly those weights (so loading skips the
seconds-long table search). Files written before weights were keyed
(`w000`, `w001`, ...) are read by position, in each family's
`legacy_components` order. A file's weights digest is that of its arrays in
the order the file stores them, so it never changes when code is reorganised.
"""

import contextlib
import json
import os
import re

import numpy as np
import tensorflow as tf

from tfvrc import bitstream
from tfvrc.zoo import cache

# pylint: disable=import-outside-toplevel  (the model code, with
# tensorflow_compression, is imported where a model is built, so the command
# line's cached path, which needs none of it, never loads it)

KEY_PREFIX = "w/"
_POSITIONAL = re.compile(r"w\d{3}$")

ZOO_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = "gained-mse"
# The fixed-rate hyperprior the variable-rate families are compared with and
# can start from (`--init_from`).
BASELINE_MODEL = "hyperprior-mse-q3"


# A replaced zoo model stays as "NAME@DIGEST" (its weights digest in hex), so
# files it wrote still decode (`for_file`).
RETIRED = "@"


def names():
  """Names of the shipped models (retired versions included)."""
  return sorted(f[:-4] for f in os.listdir(ZOO_DIR) if f.endswith(".npz"))


def path_of(name):
  return os.path.join(ZOO_DIR, name + ".npz")


def weight_keys(model):
  """{variable ref: key} of every trainable weight of `model`: the names of
  the Keras layers from the model down to the deepest one holding it, then
  the weight's own name ("analysis/layer_0/kernel_real")."""
  keys = {}

  def visit(layer, prefix):
    for sublayer in layer._flatten_layers(include_self=False,  # pylint: disable=protected-access
                                          recursive=False):
      visit(sublayer, f"{prefix}{sublayer.name}/")
    for weight in layer.trainable_weights:
      keys.setdefault(weight.ref(), prefix + weight.name.split("/")[-1]
                      .split(":")[0])

  visit(model, "")
  if len(set(keys.values())) != len(keys):
    raise ValueError(f"{model.family}: two weights have the same key")
  return keys


def save(model, path, steps, notes="", tables=None):
  """Writes `model`'s weights (float16, keyed by name, in model order) and
  config to `path` (+ .npz)."""
  meta = dict(family=model.family, config=model.get_config(), steps=steps,
              notes=notes)
  keys = weight_keys(model)
  arrays = {KEY_PREFIX + keys[w.ref()]: w.numpy().astype(np.float16)
            for w in model.trainable_weights}
  arrays.update({f"table_{k}": v for k, v in (tables or {}).items()})
  arrays["meta"] = np.array(json.dumps(meta))
  np.savez_compressed(path if path.endswith(".npz") else path + ".npz",
                      **arrays)


def publish(weights_path, destination, continues=None):
  """Writes a trained weights file as a zoo entry with its coder tables:
  `destination` is a zoo name or an `.npz` path. Returns the entry's path.

  The tables are built from the float16 weights every user loads, so
  encoder and decoder share them exactly. `continues`: the weights file (or
  zoo name) the run started from (`--init_from`), when it trained that model
  further; the entry's steps then count both, and its notes tell both
  histories.
  """
  codec = load_file(weights_path)
  steps, notes = codec.meta["steps"], codec.meta["notes"]
  if continues:
    before = read_meta(_entry_path(continues))
    earlier = before["notes"].rstrip(".")
    notes = (f"{earlier}; then {steps:,} steps more from step "
             f"{before['steps']:,}: {notes}")
    steps += before["steps"]
  path = _entry_path(destination)
  save(codec.model, path, steps, notes, tables=codec.model.coder_tables())
  return path


def _entry_path(name_or_path):
  """An `.npz` path as it is, else the zoo entry of that name."""
  return (name_or_path if name_or_path.endswith(".npz")
          else path_of(name_or_path))


@contextlib.contextmanager
def _opened(path):
  """The weights file's arrays (`np.load`); a file that cannot be read as
  one is a ValueError naming it."""
  try:
    with np.load(path) as f:
      yield f
  except (OSError, ValueError, KeyError) as e:
    raise ValueError(f"{path} is not a tfvrc weights file ({e})") from e


def read_meta(path):
  with _opened(path) as f:
    return json.loads(str(f["meta"]))


def _read(path):
  """(meta, {key or position: weight array} in file order, coder tables) of
  a weights file."""
  with _opened(path) as f:
    meta = json.loads(str(f["meta"]))
    weights = {(k[len(KEY_PREFIX):] if k.startswith(KEY_PREFIX)
                else int(k[1:])): f[k]
               for k in f.files
               if k.startswith(KEY_PREFIX) or _POSITIONAL.match(k)}
    tables = {k[len("table_"):]: f[k] for k in f.files
              if k.startswith("table_")}
  return meta, weights, tables


def init_from(model, path):
  """Starts `model` from a weights file of the same or a narrower model.

  Each of the file's weights fills the model's first unused weight with the
  same layer-relative name (e.g. "gdn_0/reparam_beta"), in order, so a gained
  or modulated model can start from a trained baseline of the same N and M
  (whether its GDNs are activations or layers of their own) and learn only
  what the baseline lacks; a model with `start_from_baseline` then adapts to
  the source's config (its lambda becomes the reference of the rate scales).

  The model may also be wider (more latent channels M, say): each weight
  then fills the leading channels, see `_widened`, and the model starts as
  the file's model plus new channels that do not yet reach the image or the
  entropy parameters of the old ones.
  """
  from tfvrc import models
  meta, weights, _ = _read(path)
  source = models.create(meta["family"], **meta["config"])
  _assign(source, weights, path)
  free = list(model.trainable_weights)
  layouts = _channel_layouts(model)
  for weight in source.trainable_weights:
    key = layer_relative_name(weight)
    # By position: `==` on variables compares their values.
    index = next((i for i, w in enumerate(free)
                  if layer_relative_name(w) == key), None)
    if index is None or not _fits(weight.shape, free[index].shape):
      raise ValueError(f"{path} does not fit a {model.family} model with "
                       f"config {model.get_config()}: nothing for its "
                       f"{weight.name} {tuple(weight.shape)}")
    target = free.pop(index)
    blocks = layouts.get(target.ref(), 1)
    if weight.shape != target.shape and blocks is None:
      raise ValueError(f"{path}: {weight.name} cannot be widened (a "
                       "checkerboard context's inputs are not in blocks)")
    target.assign(_widened(weight.numpy(), target.numpy(),
                           _input_axis(target), blocks))
  if hasattr(model, "start_from_baseline") and meta["family"] == "hyperprior":
    model.start_from_baseline(meta["config"])


def _fits(source_shape, target_shape):
  return source_shape.rank == target_shape.rank and all(
      s <= t for s, t in zip(source_shape, target_shape))


def _channel_layouts(model):
  """{weight ref: how many equal blocks its channels are in, or None where
  widening cannot keep them apart} of the weights not in one block: the
  layer that outputs the conditional entropy model's parameters (channels
  [means | scales | ...]) and a checkerboard context's (input channels
  [parameters, context])."""
  from tfvrc import latent_codecs
  codec = getattr(model, "hyperprior_codec", None)
  if codec is None:
    return {}
  layouts = {w.ref(): codec.conditional.num_params
             for w in codec.hyper_synthesis.layers[-1].trainable_weights}
  if isinstance(codec, latent_codecs.CheckerboardCodec):
    layouts.update((w.ref(), None) for w in codec.context.trainable_weights
                   + codec.refine.trainable_weights)
  return layouts


def _input_axis(weight):
  """The input-channel axis of a convolution kernel, else None."""
  name = weight.name.split("/")[-1]
  if name.startswith(("kernel_real", "kernel_imag")):
    return 0  # tfc.RDFTParameter: [in, out, kh, kw // 2 + 1]
  if name.startswith("kernel"):
    return weight.shape.rank - 2  # [kh, kw, in, out]
  return None


def _widened(source, target, input_axis, blocks):
  """`target` (the model's initial value) with `source` in its leading
  corner, in each of `blocks` equal parts of the last axis; kernels' new
  input channels are zeroed, so what the source computed is unchanged, while
  new output channels keep their initial values and can learn."""
  if source.shape == target.shape:
    return source
  widened = target.copy()
  if input_axis is not None:
    new_inputs = [slice(None)] * widened.ndim
    new_inputs[input_axis] = slice(source.shape[input_axis], None)
    widened[tuple(new_inputs)] = 0.
  def in_blocks(array):  # a view, [..., blocks, channels per block]
    return array.reshape(array.shape[:-1] + (blocks, array.shape[-1] // blocks))
  source = in_blocks(source)
  in_blocks(widened)[tuple(slice(n) for n in source.shape)] = source
  return widened


def layer_relative_name(weight):
  """A weight's name within its layer ("gdn_0/reparam_beta"): what stays the
  same when a model nests the layer elsewhere."""
  return "/".join(weight.name.split("/")[-2:])


def _assign(model, weights, path):
  """Copies the file's `weights` (`_read`) into all of the model's trainable
  weights, by key or, in a positional file, by `legacy_components` order;
  refuses any missing, extra or misshapen weight."""
  if all(isinstance(k, int) for k in weights):
    targets = [w for c in model.legacy_components()
               for w in c.trainable_variables]
    values = [weights[i] for i in sorted(weights)]
  else:
    keys = weight_keys(model)
    by_key = {keys[w.ref()]: w for w in model.trainable_weights}
    if set(by_key) != set(weights):
      missing = sorted(set(by_key) - set(weights))[:3]
      extra = sorted(set(weights) - set(by_key))[:3]
      raise ValueError(f"{path} does not fit a {model.family} model with "
                       f"config {model.get_config()} (missing {missing}, "
                       f"unknown {extra})")
    targets = [by_key[k] for k in weights]
    values = list(weights.values())
  if len(values) != len(targets) or any(
      tuple(w.shape) != v.shape for w, v in zip(targets, values)):
    raise ValueError(f"{path} does not fit a {model.family} model with "
                     f"config {model.get_config()}")
  for w, v in zip(targets, values):
    w.assign(v.astype(np.float32))


# Precisions of the analysis and synthesis transforms when coding.
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def _create(meta, precision):
  """The file's model, its analysis and synthesis in `precision` (the hyper
  transforms and entropy models are float32 in any, so a file decodes with
  the same tables whatever precision either side used)."""
  from tfvrc import models
  if precision not in PRECISIONS:
    raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                     f"got {precision!r}")
  previous = tf.keras.mixed_precision.global_policy()
  tf.keras.mixed_precision.set_global_policy(PRECISIONS[precision])
  try:
    return models.create(meta["family"], **meta["config"])
  finally:
    tf.keras.mixed_precision.set_global_policy(previous)


def load_file(path, name=None, precision="float32", cached=False,
              fixed_point=True):
  """The codec a weights file describes, its coders ready: named `name`
  (default: the file's name), its digest that of the file's weights. With
  `cached`, a client of its frozen copy in the command line's cache
  (`cache`). `fixed_point` False builds the float table path that files of
  format versions 1 and 2 need (never cached: only old files use it)."""
  name = name or os.path.splitext(os.path.basename(path))[0]

  def build():
    from tfvrc import coding
    from tfvrc.models import base
    meta, weights, tables = _read(path)
    model = _create(meta, precision)
    _assign(model, weights, path)
    model.build_coders(tables or None, fixed_point)
    return coding.Codec(model, name, base.weights_digest(weights.values()),
                        meta)
  if cached and fixed_point:
    return cache.load_or_store(path, name, precision, build)
  return build()


def for_file(header, precision="float32", cached=False):
  """The zoo codec that wrote a file with this `bitstream.Header`: the
  current model of its name, or its retired version of its digest, with the
  table path of its format version."""
  name = header.model_name
  digest = bytes(header.weights_digest).hex()
  retired = f"{name}{RETIRED}{digest}"
  if retired not in names() and name not in names():
    raise ValueError(f"the file was written by model {name!r}, which is not "
                     "in the zoo; pass --model with its weights or SavedModel")
  path = path_of(retired if retired in names() else name)
  codec = load_file(path, name, precision, cached,
                    fixed_point=bitstream.fixed_point_tables(header))
  if codec.digest.hex() != digest:
    raise ValueError(
        f"the file was written by model {name!r} with weights {digest}, "
        f"which this version does not ship (its {name!r} has weights "
        f"{codec.digest.hex()}); pass --model with those weights, in a file "
        f"named {name}.npz (see the README's built-in models)")
  return codec


def load(name_or_path=None, precision="float32", cached=False,
         fixed_point=True):
  """A ready codec: a zoo name (default: DEFAULT_MODEL), a weights file, or a
  SavedModel folder written by `tfvrc export` (always float32); `precision`
  of the analysis and synthesis transforms; `cached` and `fixed_point`: see
  `load_file`."""
  name_or_path = name_or_path or DEFAULT_MODEL
  if name_or_path in names():
    return load_file(path_of(name_or_path), name_or_path, precision, cached,
                     fixed_point)
  if os.path.isdir(name_or_path):
    from tfvrc import export  # pylint: disable=import-outside-toplevel
    return export.SavedModelCodec(name_or_path)
  if os.path.isfile(name_or_path):
    return load_file(name_or_path, precision=precision, cached=cached,
                     fixed_point=fixed_point)
  raise ValueError(f"unknown model {name_or_path!r}: not a zoo name "
                   f"({', '.join(names()) or 'none shipped'}), weights "
                   "file or SavedModel folder")
