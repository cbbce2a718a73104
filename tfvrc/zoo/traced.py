"""The command line's cache of traced models, so a cold start skips building
the Keras model and tracing its coders (issue 17; the time it saves is
measured by `experiments/speed/cli_start.py`).

The first time the CLI codes with a weights file, it exports the codec as a
SavedModel (`export.export`) under the cache folder; later runs load that
instead. The key covers everything the traced graph depends on: the weights
file's bytes, the name and precision, tfvrc's own source and TensorFlow's
version, so a changed model or program never loads a stale graph. Families
that code from Python (`graph_coding` False) are not cached.

The folder is $TFVRC_CACHE, else $XDG_CACHE_HOME/tfvrc, else ~/.cache/tfvrc;
TFVRC_CACHE=off turns the cache off.
"""

import hashlib
import os
import sys

import tensorflow as tf

_SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def folder():
  """The cache folder, or None when the cache is off."""
  configured = os.environ.get("TFVRC_CACHE")
  if configured == "off":
    return None
  if configured:
    return configured
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
      os.path.expanduser("~"), ".cache")
  return os.path.join(base, "tfvrc")


def _source_digest():
  sha = hashlib.sha256()
  for root, dirs, files in os.walk(_SOURCE):
    dirs.sort()
    for name in sorted(files):
      if name.endswith(".py"):
        with open(os.path.join(root, name), "rb") as f:
          sha.update(name.encode() + f.read())
  return sha.digest()


def _entry(weights_path, name, precision):
  """The folder of this model's cached SavedModel."""
  sha = hashlib.sha256(_source_digest())
  sha.update(f"{name}\0{precision}\0{tf.__version__}\0".encode())
  with open(weights_path, "rb") as f:
    sha.update(f.read())
  return os.path.join(folder(), f"{name}-{sha.hexdigest()[:20]}")


def load_or_store(weights_path, name, precision, build):
  """The codec of `weights_path`: its cached SavedModel when there is one;
  else `build()`, which is then stored for the next run."""
  from tfvrc import export  # pylint: disable=import-outside-toplevel
  if folder() is None or precision != "float32":
    return build()
  entry = _entry(weights_path, name, precision)
  if os.path.isdir(entry):
    try:
      return export.SavedModelCodec(entry)
    except ValueError:  # damaged: rebuilt and stored again below
      pass
  codec = build()
  if codec.graph_coding:
    print(f"tfvrc: caching the traced {name} in {folder()} (once; later "
          "runs start faster; TFVRC_CACHE=off turns this off)",
          file=sys.stderr)
    try:
      os.makedirs(folder(), exist_ok=True)
      export.export(codec, entry, force=True)
    except OSError as e:  # a read-only home: code without the cache
      print(f"tfvrc: could not cache {name} ({e})", file=sys.stderr)
  return codec
