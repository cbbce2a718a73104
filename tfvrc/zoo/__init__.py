"""Shipped trained models, and the weights file format the trainer writes.

A zoo entry is one `.npz` file: the trainable weights in model order (float16;
the model computes in float32), a `meta` JSON record with the family, the
constructor config, the number of training steps and how it was trained, and,
in published entries, the range-coding tables of exactly those weights (so
loading skips the seconds-long table search).
"""

import json
import os

import numpy as np

from tfvrc import models

ZOO_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = "gained-mse"
# The fixed-rate hyperprior the variable-rate families are compared with and
# can start from (`--init_from`).
BASELINE_MODEL = "hyperprior-mse-q3"


def names():
  """Names of the shipped models."""
  return sorted(f[:-4] for f in os.listdir(ZOO_DIR) if f.endswith(".npz"))


def path_of(name):
  return os.path.join(ZOO_DIR, name + ".npz")


def save(model, path, steps, notes="", tables=None):
  """Writes `model`'s weights (float16) and config to `path` (+ .npz)."""
  meta = dict(family=model.family, config=model.get_config(), steps=steps,
              notes=notes)
  arrays = {f"w{i:03d}": w.numpy().astype(np.float16)
            for i, w in enumerate(model.trainable_weights)}
  arrays.update({f"table_{k}": v for k, v in (tables or {}).items()})
  arrays["meta"] = np.array(json.dumps(meta))
  np.savez(path if path.endswith(".npz") else path + ".npz", **arrays)


def publish(weights_path, name):
  """Adds a trained weights file to the zoo as `name`, with its coder tables.

  The tables are built from the float16 weights every user loads, so
  encoder and decoder share them exactly.
  """
  model = load_file(weights_path)
  meta = model.zoo_meta
  save(model, path_of(name), meta["steps"], meta["notes"],
       tables=model.coder_tables())
  return path_of(name)


def read_meta(path):
  with np.load(path) as f:
    return json.loads(str(f["meta"]))


def _read(path):
  """(meta, weight arrays in model order, coder tables) of a weights file."""
  try:
    with np.load(path) as f:
      meta = json.loads(str(f["meta"]))
      values = [f[k] for k in sorted(f.files) if k.startswith("w")]
      tables = {k[len("table_"):]: f[k] for k in f.files
                if k.startswith("table_")}
  except (OSError, ValueError, KeyError) as e:
    raise ValueError(f"{path} is not a tfvrc weights file ({e})") from e
  return meta, values, tables


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
  meta, values, _ = _read(path)
  source = models.create(meta["family"], **meta["config"])
  _assign(source, values, path)
  free = list(model.trainable_weights)
  blocked = _entropy_parameter_weights(model)
  for weight in source.trainable_weights:
    key = _layer_relative(weight)
    # By position: `==` on variables compares their values.
    index = next((i for i, w in enumerate(free) if _layer_relative(w) == key),
                 None)
    if index is None or not _fits(weight.shape, free[index].shape):
      raise ValueError(f"{path} does not fit a {model.family} model with "
                       f"config {model.get_config()}: nothing for its "
                       f"{weight.name} {tuple(weight.shape)}")
    target = free.pop(index)
    blocks = blocked.get(target.ref(), 1)
    target.assign(_widened(weight.numpy(), target.numpy(),
                           _input_axis(target), blocks))
  if hasattr(model, "start_from_baseline") and meta["family"] == "hyperprior":
    model.start_from_baseline(meta["config"])


def _fits(source_shape, target_shape):
  return source_shape.rank == target_shape.rank and all(
      s <= t for s, t in zip(source_shape, target_shape))


def _entropy_parameter_weights(model):
  """{weight ref: number of parameter blocks} of the layer that outputs the
  conditional entropy model's parameters (channels [means | scales | ...])."""
  transform = getattr(model, "hyper_synthesis_transform", None)
  if transform is None:
    return {}
  return {w.ref(): model.conditional.num_params
          for w in transform.layers[-1].trainable_weights}


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


def _layer_relative(weight):
  return "/".join(weight.name.split("/")[-2:])


def _assign(model, values, path):
  """Copies `values` into all of the model's trainable weights, in order,
  refusing any count or shape mismatch."""
  weights = model.trainable_weights
  if len(values) != len(weights) or any(
      tuple(w.shape) != v.shape for w, v in zip(weights, values)):
    raise ValueError(f"{path} does not fit a {model.family} model with "
                     f"config {model.get_config()}")
  for w, v in zip(weights, values):
    w.assign(v.astype(np.float32))


def load_file(path):
  """Builds the model a weights file describes, with its coders ready."""
  meta, values, tables = _read(path)
  model = models.create(meta["family"], **meta["config"])
  _assign(model, values, path)
  model.build_coders(tables or None)
  model.zoo_meta = meta
  return model


def load(name_or_path=None):
  """A ready codec: a zoo name (default: DEFAULT_MODEL), a weights file, or a
  SavedModel folder written by `tfvrc export`."""
  name_or_path = name_or_path or DEFAULT_MODEL
  if name_or_path in names():
    model = load_file(path_of(name_or_path))
    model.codec_name = name_or_path
  elif os.path.isdir(name_or_path):
    from tfvrc import export  # pylint: disable=import-outside-toplevel
    return export.SavedModelCodec(name_or_path)
  elif os.path.isfile(name_or_path):
    model = load_file(name_or_path)
    model.codec_name = os.path.splitext(os.path.basename(name_or_path))[0]
  else:
    raise ValueError(f"unknown model {name_or_path!r}: not a zoo name "
                     f"({', '.join(names()) or 'none shipped'}), weights "
                     "file or SavedModel folder")
  model.digest = model.weights_digest()
  return model
