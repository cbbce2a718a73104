"""In-process coding times of one codec; speed.py runs it as a child process.

`--codec tfvrc` times tfvrc's Python API (image -> file bytes -> image);
`--codec bmshj2018` imports tensorflow-compression's models/bmshj2018.py,
loads its SavedModel as that script does and times its `compress` plus
PackedTensors packing, and unpacking plus `decompress`. Both warm up once on
the first image (tracing both directions), then time every image. Prints one
JSON line: N, M, versions, per-image times and their medians.

TensorFlow is imported here at the top, before absl parses flags: when it is
first imported inside `app.run`, Keras fails to revive bmshj2018's SavedModel
(its Lambda layers) in TF 2.14.
"""

import importlib.metadata
import importlib.util
import json
import os
import statistics
import time

from absl import app
from absl import flags
import tensorflow as tf
import tensorflow_compression as tfc

FLAGS = flags.FLAGS
flags.DEFINE_enum("codec", None, ["tfvrc", "bmshj2018"], "Which to time.")
flags.DEFINE_list("images", None, "Image files; the first is the warm-up.")
flags.DEFINE_string("model", None, "tfvrc model (default: tfvrc's default).")
flags.DEFINE_string("tfc_models", None, "Folder containing bmshj2018.py.")
flags.DEFINE_string("tfc_model_path", None, "bmshj2018 SavedModel.")
flags.mark_flags_as_required(["codec", "images"])


def timed_loop(images, compress, decompress):
  """Warms up on the first image, then times both directions on each image."""
  decompress(compress(images[0]))
  times = {"compress_each_s": [], "decompress_each_s": []}
  for image in images:
    start = time.perf_counter()
    data = compress(image)
    middle = time.perf_counter()
    decoded = decompress(data)
    end = time.perf_counter()
    if tuple(decoded.shape) != tuple(image.shape):
      raise RuntimeError(f"decoded shape {decoded.shape} != {image.shape}")
    times["compress_each_s"].append(middle - start)
    times["decompress_each_s"].append(end - middle)
  times["compress_s"] = statistics.median(times["compress_each_s"])
  times["decompress_s"] = statistics.median(times["decompress_each_s"])
  return times


def time_tfvrc():
  """tfvrc: encode to the bytes of a file, decode back to a uint8 array."""
  # Imported here: the bmshj2018 child does not have tfvrc on its path.
  from tfvrc import coding, io, zoo  # pylint: disable=import-outside-toplevel
  codec = zoo.load(FLAGS.model)
  images = [io.read_image(p) for p in FLAGS.images]
  return dict(
      N=getattr(codec.model, "num_filters", None),
      M=getattr(codec.model, "latent_depth", None),
      in_process=timed_loop(images, lambda x: coding.encode(codec, x),
                            lambda d: coding.decode(codec, d)))


def time_bmshj2018():
  """bmshj2018: its model functions plus PackedTensors, as its CLI does."""
  spec = importlib.util.spec_from_file_location(
      "bmshj2018", os.path.join(FLAGS.tfc_models, "bmshj2018.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  model = tf.keras.models.load_model(FLAGS.tfc_model_path)
  dtypes = [t.dtype for t in model.decompress.input_signature]
  biases = [v for v in model.analysis_transform.variables if "bias" in v.name]

  def compress(x):
    packed = tfc.PackedTensors()
    packed.pack(model.compress(x))
    return packed.string

  def decompress(data):
    return model.decompress(*tfc.PackedTensors(data).unpack(dtypes)).numpy()

  images = [module.read_png(p) for p in FLAGS.images]
  return dict(
      N=int(biases[0].shape[0]), M=int(biases[-1].shape[0]),
      tfc_version=importlib.metadata.version("tensorflow-compression"),
      in_process=timed_loop(images, compress, decompress))


def main(argv):
  del argv
  result = time_tfvrc() if FLAGS.codec == "tfvrc" else time_bmshj2018()
  result["tf_version"] = tf.__version__
  print(json.dumps(result))


if __name__ == "__main__":
  app.run(main)
