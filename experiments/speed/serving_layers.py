"""The serving `analyze` of a layered model at each number of layers.

Exports a layered zoo model (default: the shipped scalable RNN) as a serving
SavedModel (`tfvrc.serving.signatures`), then times its `analyze` signature
on one image at every rate (number of layers): the median of --runs after a
warm-up. Prints the export time and a table with each rate's time as a
fraction of the full file's, and writes JSON.

  python experiments/speed/serving_layers.py
"""

import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import io, zoo
from tfvrc.serving import signatures
import timing

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "scalable-rnn-mse", "A layered zoo model.")
flags.DEFINE_string("image", os.path.join(REPO, "..", "shared", "data",
                                          "kodak", "kodim05.png"),
                    "Image to analyze.")
flags.DEFINE_integer("runs", 3, "Timed calls per rate.", lower_bound=1)
flags.DEFINE_string("out", "experiments/speed/results/serving_layers.json",
                    "JSON output; a relative path is taken from the repo root.")


def main(argv):
  del argv
  load_average = os.getloadavg()
  codec = zoo.load(FLAGS.model)
  start = time.perf_counter()
  exported = signatures.export(codec, tempfile.mkdtemp())
  export_s = time.perf_counter() - start
  analyze = tf.saved_model.load(exported).signatures["analyze"]
  image = tf.constant(io.read_image(FLAGS.image))
  rows = [dict(rate=rate, analyze_s=timing.median_time(
      lambda r=rate: analyze(image=image, rate=tf.constant(float(r))),
      FLAGS.runs)) for rate in range(1, codec.max_layers + 1)]
  print(f"export {export_s:.1f} s; analyze of {os.path.basename(FLAGS.image)} "
        f"{image.shape[1]}x{image.shape[0]}:")
  print(f"{'layers':>6} {'analyze (s)':>12} {'vs all':>7}")
  for row in rows:
    print(f"{row['rate']:>6} {row['analyze_s']:>12.3f} "
          f"{row['analyze_s'] / rows[-1]['analyze_s']:>7.2f}")
  timing.write_results(os.path.join(REPO, FLAGS.out), load_average,
                       model=codec.codec_name,
                       image=os.path.basename(FLAGS.image), runs=FLAGS.runs,
                       export_s=export_s, rows=rows)


if __name__ == "__main__":
  app.run(main)
