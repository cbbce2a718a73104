"""What the fixed-point table path (format version 3) costs against the float
path it replaced, on Kodak through real files.

For every shipped model whose tables a hyper-synthesis picks, at its lowest,
middle and highest rate, each image is coded twice in one process: with the
fixed-point hyper-synthesis and with the float one (the version-2 coding).
Prints mean bpp and PSNR of each, the bpp change and the coding times
(medians, seconds per image), and writes results/fixed_point_cost.json
(keeping the rows of models not measured in this run).

  python experiments/reliability/fixed_point_cost.py [--images 24] [--models a,b]
"""

import json
import os
import statistics
import sys
import time

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import determinism  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 24, "How many Kodak images (sorted).")
flags.DEFINE_list("models", None, "Zoo models to measure (default: every "
                  "one whose tables a network picks).")
flags.DEFINE_string("kodak", os.path.join(determinism.REPO, "..", "shared",
                                          "data", "kodak"),
                    "The Kodak folder.")


def code(codec, image, rate):
  """(bytes, PSNR, encode s, decode s) of one image through a real file."""
  from tfvrc import coding, metrics  # pylint: disable=import-outside-toplevel
  start = time.perf_counter()
  data = coding.encode(codec, image, rate)
  middle = time.perf_counter()
  decoded = coding.decode(codec, data)
  end = time.perf_counter()
  return (len(data), float(metrics.psnr(image, decoded)), middle - start,
          end - middle)


def main(argv):
  del argv
  from tfvrc import bitstream, io, metrics, zoo  # pylint: disable=import-outside-toplevel
  paths = sorted(os.path.join(FLAGS.kodak, f) for f in os.listdir(FLAGS.kodak)
                 if f.endswith(".png"))[:FLAGS.images]
  images = [io.read_image(p) for p in paths]
  rows = []
  for name in FLAGS.models or zoo.names():
    fixed = zoo.load(name)
    if tuple(fixed.format_versions) != bitstream.FIXED_POINT_VERSIONS:
      continue  # no network picks its tables, or not yet fixed point
    floating = zoo.load_file(zoo.path_of(name), name, fixed_point=False)
    for rate in determinism.rates(fixed):
      for codec in (fixed, floating):  # warm up both (tracing)
        code(codec, images[0][:64, :64], rate)
      results = {"fixed": [], "float": []}
      for image in images:
        for kind, codec in (("fixed", fixed), ("float", floating)):
          results[kind].append(code(codec, image, rate))
      row = {"model": name, "rate": rate, "images": len(images),
             "date": time.strftime("%Y-%m-%d")}
      for kind, values in results.items():
        row[f"bpp_{kind}"] = statistics.mean(
            metrics.bpp(v[0], image.shape) for v, image in zip(values, images))
        row[f"psnr_{kind}"] = statistics.mean(v[1] for v in values)
        row[f"encode_s_{kind}"] = statistics.median(v[2] for v in values)
        row[f"decode_s_{kind}"] = statistics.median(v[3] for v in values)
      row["bytes_change_percent"] = 100 * (
          sum(v[0] for v in results["fixed"])
          / sum(v[0] for v in results["float"]) - 1)
      rows.append(row)
      print(f"{name:<20} rate {rate:<8.4g} bpp {row['bpp_float']:.4f} -> "
            f"{row['bpp_fixed']:.4f} ({row['bytes_change_percent']:+.3f} %), "
            f"PSNR {row['psnr_float']:.3f} -> {row['psnr_fixed']:.3f} dB, "
            f"decode {row['decode_s_float']:.3f} -> "
            f"{row['decode_s_fixed']:.3f} s", flush=True)
  out = os.path.join(determinism.REPO, FLAGS.out)
  os.makedirs(out, exist_ok=True)
  path = os.path.join(out, "fixed_point_cost.json")
  measured = {row["model"] for row in rows}
  if os.path.exists(path):  # other models' rows stay, from their own run
    with open(path) as f:
      rows = [r for r in json.load(f)["rows"]
              if r["model"] not in measured] + rows
  with open(path, "w") as f:
    json.dump(dict(rows=rows), f, indent=1)
  print(f"results in {path}")


if __name__ == "__main__":
  app.run(main)
