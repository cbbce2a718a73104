"""Kernel rebuild time: tfc's irfft2d against tfvrc's matrix inverse RDFT.

For each transform of a model (default: the default model), times building
all its RDFT-parameterized kernels, once with `tfc.RDFTParameter` (copies of
the same variables) and once with the model's own `MatrixRDFTParameter`, as
`tf.function`s (median of --runs after a warm-up), beside the model's whole
compress and decompress of one image. Prints a table and writes JSON.

  python experiments/speed/rdft_kernels.py
"""

import json
import os
import platform
import statistics
import sys
import time

from absl import app
from absl import flags
import tensorflow as tf
import tensorflow_compression as tfc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import cli, io, zoo
from tfvrc.layers import rdft

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Zoo name or weights file (default: the "
                    "default model).")
flags.DEFINE_string("image", cli.SAMPLE_IMAGE, "Image for compress and "
                    "decompress.")
flags.DEFINE_integer("runs", 20, "Timed runs of each function.",
                     lower_bound=1)
flags.DEFINE_string("out", "experiments/speed/results/rdft_kernels.json",
                    "JSON output; a relative path is taken from the repo root.")


def median_time(function):
  function()
  times = []
  for _ in range(FLAGS.runs):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def tfc_copy(parameter):
  """A `tfc.RDFTParameter` holding the same values as `parameter`."""
  copy = tfc.RDFTParameter(None, shape=parameter.shape, dtype=tf.float32)
  copy.real.assign(parameter.real)
  copy.imag.assign(parameter.imag)
  return copy


def main(argv):
  del argv
  load_average = os.getloadavg()
  model = zoo.load(FLAGS.model)
  rows = []
  for transform in (model.analysis_transform, model.hyper_analysis_transform,
                    model.hyper_synthesis_transform, model.synthesis_transform):
    ours = [layer.kernel_parameter for layer in transform.layers
            if isinstance(getattr(layer, "kernel_parameter", None),
                          rdft.MatrixRDFTParameter)]
    if not ours:
      continue
    theirs = [tfc_copy(p) for p in ours]
    rows.append({
        "transform": transform.name, "kernels": len(ours),
        "tfc_s": median_time(tf.function(lambda t=theirs: [p() for p in t])),
        "tfvrc_s": median_time(tf.function(lambda o=ours: [p() for p in o])),
    })
  image = tf.constant(io.read_image(FLAGS.image))
  rate = tf.constant(model.default_rate, tf.float32)
  strings = model.compress(image, rate)
  coding = {
      "compress_s": median_time(lambda: model.compress(image, rate)),
      "decompress_s": median_time(
          lambda: model.decompress(tf.shape(image)[:2], rate, *strings)),
  }

  print(f"{'transform':<18} {'kernels':>7} {'tfc (ms)':>9} {'tfvrc (ms)':>10} "
        f"{'tfvrc/tfc':>9}")
  for row in rows:
    print(f"{row['transform']:<18} {row['kernels']:>7} "
          f"{1e3 * row['tfc_s']:>9.2f} {1e3 * row['tfvrc_s']:>10.2f} "
          f"{row['tfvrc_s'] / row['tfc_s']:>9.3f}")
  tfc_total = sum(row["tfc_s"] for row in rows)
  print(f"\nall kernels: tfc {1e3 * tfc_total:.1f} ms, tfvrc "
        f"{1e3 * sum(row['tfvrc_s'] for row in rows):.1f} ms; the model's "
        f"compress {1e3 * coding['compress_s']:.1f} ms, decompress "
        f"{1e3 * coding['decompress_s']:.1f} ms ({image.shape[1]}x"
        f"{image.shape[0]})")
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w", encoding="utf-8") as f:
    json.dump({"model": model.codec_name, "image": os.path.basename(
        FLAGS.image), "machine": platform.machine(), "cpus": os.cpu_count(),
               "load_average_at_start": load_average, "runs": FLAGS.runs,
               "transforms": rows, **coding}, f, indent=2)
  print(f"Wrote {out}")


if __name__ == "__main__":
  app.run(main)
