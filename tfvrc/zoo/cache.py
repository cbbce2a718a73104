"""The command line's cache of frozen models, so a cold start skips building
the Keras model, tracing, and importing tensorflow_compression (issue 17;
the time it saves is measured by `experiments/speed/cli_start.py`).

The first time the CLI codes with a weights file, it freezes the model's
serving signatures (`serving.signatures.freeze`) under the cache folder;
later runs code through those (`serving.client.Client` over
`serving.backends.Frozen`), which write and read the same files. The key
covers everything the frozen graphs depend on: the weights file's bytes, the
name and precision, tfvrc's own source and TensorFlow's version, so a changed
model or program never loads a stale graph. Families without a serving split
(whose decoder needs the range coder between its networks' steps) are not
cached.

The folder is $TFVRC_CACHE, else $XDG_CACHE_HOME/tfvrc, else ~/.cache/tfvrc;
TFVRC_CACHE=off turns the cache off.
"""

import hashlib
import os
import sys

import tensorflow as tf

from tfvrc.serving import backends
from tfvrc.serving import client
from tfvrc.serving import protocol

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
  """The folder of this model's frozen signatures."""
  sha = hashlib.sha256(_source_digest())
  sha.update(f"{name}\0{precision}\0{tf.__version__}\0".encode())
  with open(weights_path, "rb") as f:
    sha.update(f.read())
  return os.path.join(folder(), f"{name}-{sha.hexdigest()[:20]}")


def load_or_store(weights_path, name, precision, build):
  """The codec of `weights_path`: a client of its cached frozen signatures
  when there are some; else `build()`, which is then frozen for the next
  run."""
  if folder() is None or precision != "float32":
    return build()
  entry = _entry(weights_path, name, precision)
  if os.path.isfile(os.path.join(entry, protocol.FROZEN_INDEX)):
    try:
      return client.Client(backends.Frozen(entry))
    except backends.ServingError:  # damaged: rebuilt and stored again below
      pass
  codec = build()
  if codec.model.serving_split:
    from tfvrc.serving import signatures  # pylint: disable=import-outside-toplevel
    print(f"tfvrc: caching the frozen {name} in {folder()} (once; later "
          "runs start faster; TFVRC_CACHE=off turns this off)",
          file=sys.stderr)
    try:
      signatures.freeze(codec, entry)
    except OSError as e:  # a read-only home: code without the cache
      print(f"tfvrc: could not cache {name} ({e})", file=sys.stderr)
  return codec
