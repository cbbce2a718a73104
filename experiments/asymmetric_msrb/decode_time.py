"""Encode and decode time of the asymmetric MSRB codec, split into parts.

Per image (in-process, after one warm-up image that traces everything):
total encode and decode time, and within them the context steps (the
wavefront's per-step network and pmfs), the integer CDF tables, the range
coder, and the rest (analysis or synthesis, hyperprior, z's coder). Prints a
table (medians over the images) and writes JSON.

  python experiments/asymmetric_msrb/decode_time.py --model WEIGHTS.npz
  python experiments/asymmetric_msrb/decode_time.py --num_filters 128 \
      --decoder_msrbs 3          # untrained weights: see the README

Untrained weights (seed 0) coded 2.7 bpp at N=128 on Kodak (2026-12-03),
more symbols than a trained model at its rates, so their coder times do not
understate a trained model's (README).
"""

import collections
import datetime
import glob
import json
import os
import statistics
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from tfvrc import coding
from tfvrc import io
from tfvrc import models
from tfvrc import zoo
from tfvrc.entropy import mixture
from tfvrc.entropy import range_coding

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FLAGS = flags.FLAGS
flags.DEFINE_string("data", "../shared/data/kodak", "Folder of PNG images "
                    "(relative paths from the repo root).")
flags.DEFINE_string("model", None, "Weights file or zoo name; default: "
                    "untrained weights (seed 0) of --num_filters and "
                    "--decoder_msrbs.")
flags.DEFINE_integer("num_filters", 128, "N of untrained weights.")
flags.DEFINE_integer("decoder_msrbs", 1, "Decoder MSRBs of untrained weights.")
flags.DEFINE_integer("images", 4, "Images timed (after a warm-up).")
flags.DEFINE_string("out", os.path.join(HERE, "results", "decode_time.json"),
                    "JSON output.")


class Timers:
  """Accumulates wall time of wrapped functions, by part name."""

  def __init__(self):
    self.seconds = collections.Counter()

  def wrap(self, owner, attribute, part):
    function = getattr(owner, attribute)

    def timed(*args, **kwargs):
      start = time.perf_counter()
      try:
        return function(*args, **kwargs)
      finally:
        self.seconds[part] += time.perf_counter() - start
    setattr(owner, attribute, timed)


def load_codec():
  if FLAGS.model:
    return zoo.load(FLAGS.model)
  tf.keras.utils.set_random_seed(0)
  model = models.create("asymmetric_msrb", num_filters=FLAGS.num_filters,
                        decoder_msrbs=FLAGS.decoder_msrbs)
  model.build_coders()
  return coding.Codec.of(model, "untrained")


def measure(timers, function):
  """(result, {part: seconds}) of one call, "rest" = total - parts."""
  timers.seconds.clear()
  start = time.perf_counter()
  result = function()
  total = time.perf_counter() - start
  parts = dict(timers.seconds)
  parts["rest"] = total - sum(parts.values())
  parts["total"] = total
  return result, parts


def main(_):
  codec = load_codec()
  timers = Timers()
  context = codec.model.context_codec
  timers.wrap(context, "_step", "context steps")
  timers.wrap(mixture, "quantized_cdfs", "tables")
  timers.wrap(range_coding.Encoder, "encode", "range coder")
  timers.wrap(range_coding.Decoder, "decode", "range coder")
  data_dir = os.path.join(REPO, FLAGS.data)
  paths = sorted(glob.glob(os.path.join(data_dir, "*.png")))
  rows = []
  for i, path in enumerate(paths[:FLAGS.images + 1]):
    image = io.read_image(path)
    data, encode = measure(timers, lambda: coding.encode(codec, image))
    decoded, decode = measure(timers, lambda: coding.decode(codec, data))
    if i == 0:
      continue  # the warm-up traces the step functions
    rows.append(dict(image=os.path.basename(path), shape=image.shape[:2],
                     bpp=8 * len(data) / np.prod(image.shape[:2]),
                     encode=encode, decode=decode))
  parts = ["context steps", "tables", "range coder", "rest", "total"]
  print(f"model {codec.codec_name}, {len(rows)} images, median seconds")
  print(f"{'':8}" + "".join(f"{p:>15}" for p in parts))
  summary = {}
  for side in ("encode", "decode"):
    medians = {p: statistics.median(r[side].get(p, 0.) for r in rows)
               for p in parts}
    summary[side] = medians
    print(f"{side:8}" + "".join(f"{medians[p]:15.3f}" for p in parts))
  print(f"bpp (median): {statistics.median(r['bpp'] for r in rows):.4f}")
  os.makedirs(os.path.dirname(FLAGS.out), exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump(dict(date=datetime.date.today().isoformat(),
                   model=codec.codec_name,
                   config=codec.model.get_config(), cpu_count=os.cpu_count(),
                   median_seconds=summary, images=rows), f, indent=1,
              default=str)
  print("wrote", FLAGS.out)


if __name__ == "__main__":
  app.run(main)
