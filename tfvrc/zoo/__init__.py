"""Shipped trained models, and the weights file format the trainer writes.

A zoo entry is one `.npz` file: the trainable weights in model order (float16;
the model computes in float32) and a `meta` JSON record with the family, the
constructor config, the number of training steps and how it was trained.
"""

import json
import os

import numpy as np

from tfvrc import models

ZOO_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = "hyperprior-mse-q3"


def names():
  """Names of the shipped models."""
  return sorted(f[:-4] for f in os.listdir(ZOO_DIR) if f.endswith(".npz"))


def path_of(name):
  return os.path.join(ZOO_DIR, name + ".npz")


def save(model, path, steps, notes="", dtype=np.float16):
  """Writes `model`'s weights and config to `path` (+ .npz)."""
  meta = dict(family=model.family, config=model.get_config(), steps=steps,
              notes=notes)
  arrays = {f"w{i:03d}": w.numpy().astype(dtype)
            for i, w in enumerate(model.trainable_weights)}
  arrays["meta"] = np.array(json.dumps(meta))
  np.savez(path if path.endswith(".npz") else path + ".npz", **arrays)


def read_meta(path):
  with np.load(path) as f:
    return json.loads(str(f["meta"]))


def load_file(path):
  """Builds the model a weights file describes, with its coders ready."""
  try:
    with np.load(path) as f:
      meta = json.loads(str(f["meta"]))
      values = [f[f"w{i:03d}"] for i in range(len(f.files) - 1)]
  except (OSError, ValueError, KeyError) as e:
    raise ValueError(f"{path} is not a tfvrc weights file ({e})") from e
  model = models.create(meta["family"], **meta["config"])
  weights = model.trainable_weights
  if len(weights) != len(values) or any(
      tuple(w.shape) != v.shape for w, v in zip(weights, values)):
    raise ValueError(f"{path} does not match a {meta['family']} model with "
                     f"config {meta['config']}")
  for w, v in zip(weights, values):
    w.assign(v.astype(np.float32))
  model.build_coders()
  model.zoo_meta = meta
  return model
