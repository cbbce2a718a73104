"""Time of the quality metrics `tfvrc eval` computes per decoded image.

For each Kodak image and its JPEG (quality 50, Pillow) decode, PSNR and
MS-SSIM eagerly (`tf.image` called directly, as `tfvrc.metrics` did before)
and through `tfvrc.metrics` (tf.functions traced once for any size), in one
run, interleaved; prints the per-image medians and their ratio and writes JSON.

  python experiments/speed/metrics_speed.py
"""

import io
import json
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
from PIL import Image
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import evaluate
from tfvrc import metrics

FLAGS = flags.FLAGS
flags.DEFINE_string("data", "../shared/data/kodak", "Test images.")
flags.DEFINE_string("json", "experiments/speed/results/metrics_speed.json",
                    "JSON output, from the repo root.")


def eager_psnr(a, b):
  return float(tf.image.psnr(tf.cast(a, tf.float32), tf.cast(b, tf.float32),
                             max_val=255.))


def eager_ms_ssim(a, b):
  return float(tf.image.ssim_multiscale(
      tf.cast(a, tf.float32), tf.cast(b, tf.float32), max_val=255.))


def jpeg_decoded(image):
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, "JPEG", quality=50)
  return np.asarray(Image.open(buffer).convert("RGB"))


def seconds(function, a, b):
  start = time.perf_counter()
  function(a, b)
  return time.perf_counter() - start


def main(argv):
  del argv
  data = os.path.join(REPO, FLAGS.data)
  pairs = [(x, jpeg_decoded(x)) for _, x in evaluate.load_images(
      evaluate.list_images(data))]
  functions = {"eager": (eager_psnr, eager_ms_ssim),
               "compiled": (metrics.psnr, metrics.ms_ssim)}
  for psnr, ms_ssim in functions.values():  # trace / warm up once
    psnr(*pairs[0]), ms_ssim(*pairs[0])
  times = {name: [] for name in functions}
  for a, b in pairs:
    for name, (psnr, ms_ssim) in functions.items():
      times[name].append(seconds(psnr, a, b) + seconds(ms_ssim, a, b))
  medians = {name: float(np.median(t)) for name, t in times.items()}
  ratio = medians["compiled"] / medians["eager"]
  print(f"{'metrics':<10} {'median ms per image':>20}")
  for name, value in medians.items():
    print(f"{name:<10} {1e3 * value:>20.1f}")
  print(f"compiled / eager: {ratio:.2f} ({len(pairs)} images, "
        f"load average {os.getloadavg()[0]:.2f})")
  out = os.path.join(REPO, FLAGS.json)
  with open(out, "w") as f:
    json.dump(dict(images=len(pairs), median_seconds=medians,
                   compiled_over_eager=ratio,
                   load_average=os.getloadavg()), f, indent=2)
  print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
