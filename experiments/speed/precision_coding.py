"""Coding in bfloat16 against float32: speed and the PSNR it costs.

The same zoo model loaded twice (`zoo.load(..., precision=...)`): analysis and
synthesis in float32 or in bfloat16, the hyper transforms and entropy models
float32 in both. For each Kodak image at --rates rates over the model's range,
each codec encodes and decodes (interleaved, in one run); a file written in
bfloat16 is also decoded in float32, which must work (the entropy tables do
not depend on the transforms' precision). Prints per rate the bpp, PSNR and
time of both and writes JSON.

  python experiments/speed/precision_coding.py
"""

import json
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import coding
from tfvrc import evaluate
from tfvrc import metrics
from tfvrc import zoo

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Zoo name or weights file (default: the "
                    "default model).")
flags.DEFINE_string("data", "../shared/data/kodak", "Test images.")
flags.DEFINE_integer("images", None, "First N images.")
flags.DEFINE_integer("rates", 5, "Rates over the model's rate range.")
flags.DEFINE_string("json", "experiments/speed/results/precision_coding.json",
                    "JSON output, from the repo root.")

PRECISIONS = ("float32", "bfloat16")


def timed(function, *args):
  start = time.perf_counter()
  result = function(*args)
  return result, time.perf_counter() - start


def main(argv):
  del argv
  codecs = {p: zoo.load(FLAGS.model, precision=p) for p in PRECISIONS}
  images = [x for _, x in evaluate.load_images(evaluate.list_images(
      os.path.join(REPO, FLAGS.data), FLAGS.images))]
  rates = evaluate.model_rates(codecs["float32"], steps=FLAGS.rates)
  for codec in codecs.values():  # trace once
    coding.decode(codec, coding.encode(codec, images[0][:64, :64]))
  rows = []
  for rate in rates:
    row = dict(rate=rate)
    for image in images:
      for precision, codec in codecs.items():
        data, encode_s = timed(coding.encode, codec, image, rate)
        decoded, decode_s = timed(coding.decode, codec, data)
        for key, value in (("bpp", metrics.bpp(len(data), image.shape)),
                           ("psnr", metrics.psnr(image, decoded)),
                           ("encode_s", encode_s), ("decode_s", decode_s)):
          row.setdefault(f"{key}_{precision}", []).append(value)
        if precision == "bfloat16":  # decodes in float32 too
          coding.decode(codecs["float32"], data)
    rows.append({k: float(np.mean(v)) if isinstance(v, list) else v
                 for k, v in row.items()})
  print(f"{'rate':>6} {'bpp f32':>8} {'bpp bf16':>8} {'PSNR f32':>9} "
        f"{'bf16-f32 dB':>11} {'enc ratio':>9} {'dec ratio':>9}")
  for r in rows:
    print(f"{r['rate']:>6.3g} {r['bpp_float32']:>8.4f} {r['bpp_bfloat16']:>8.4f}"
          f" {r['psnr_float32']:>9.3f} "
          f"{r['psnr_bfloat16'] - r['psnr_float32']:>+11.3f} "
          f"{r['encode_s_bfloat16'] / r['encode_s_float32']:>9.2f} "
          f"{r['decode_s_bfloat16'] / r['decode_s_float32']:>9.2f}")
  out = os.path.join(REPO, FLAGS.json)
  with open(out, "w") as f:
    json.dump(dict(model=codecs["float32"].codec_name,
                   digest=codecs["float32"].digest.hex(), images=len(images),
                   load_average=os.getloadavg(), rows=rows), f, indent=2)
  print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
