"""Peak memory of `tfvrc compress` and `decompress` by image size.

Each size is the shipped sample resized (bicubic) to WxH; each command runs
in a fresh process, which reports its peak resident memory. The peak per
megapixel is the slope between the smallest and the largest size. Prints a
table and writes JSON (results/big_image_MODEL.json).

  python experiments/reliability/big_image.py                    # 1 and 48 MP
  python experiments/reliability/big_image.py --sizes 1000x1000 --model NAME
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["1000x1000", "8000x6000"], "Image sizes, WxH.")
flags.DEFINE_string("model", None, "Zoo model (default: the default model).")
flags.DEFINE_string("out", "experiments/reliability/results",
                    "Output folder (relative paths from the repo root).")

def measured(args):
  """(peak resident MB, seconds) of `tfvrc ARGS` in a fresh process: its own
  peak, from wait4 (the command line ends with os._exit, so the process
  cannot report it itself)."""
  start = time.monotonic()
  with tempfile.TemporaryFile() as log:
    child = subprocess.Popen([sys.executable, "-m", "tfvrc", *args],
                             cwd=REPO, stdout=log, stderr=log)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
      log.seek(0)
      raise RuntimeError(f"tfvrc {' '.join(args)} failed: "
                         f"{log.read().decode()[-2000:]}")
  return usage.ru_maxrss / 1024, time.monotonic() - start


def main(_):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from tfvrc import cli, zoo  # pylint: disable=import-outside-toplevel
  model = ["--model", FLAGS.model] if FLAGS.model else []
  rows = []
  print(f"{'size':>11s} {'MP':>6s} {'compress MB':>12s} {'s':>6s} "
        f"{'decompress MB':>14s} {'s':>6s} {'bpp':>7s}")
  with tempfile.TemporaryDirectory() as tmp:
    for size in FLAGS.sizes:
      width, height = map(int, size.split("x"))
      image = os.path.join(tmp, f"{size}.png")
      with Image.open(cli.SAMPLE_IMAGE) as im:
        im.convert("RGB").resize((width, height), Image.BICUBIC).save(image)
      coded, decoded = image + ".tfvrc", image + ".out.png"
      compress = measured(["compress", *model, image, coded])
      decompress = measured(["decompress", coded, decoded])
      bpp = os.path.getsize(coded) * 8 / (width * height)
      rows.append(dict(size=size, megapixels=width * height / 1e6,
                       compress_mb=round(compress[0]),
                       compress_s=round(compress[1], 1),
                       decompress_mb=round(decompress[0]),
                       decompress_s=round(decompress[1], 1), bpp=bpp))
      print(f"{size:>11s} {width * height / 1e6:6.1f} {compress[0]:12.0f} "
            f"{compress[1]:6.1f} {decompress[0]:14.0f} {decompress[1]:6.1f} "
            f"{bpp:7.4f}", flush=True)
  first, last = rows[0], rows[-1]
  slope = {}
  if last["megapixels"] > first["megapixels"]:
    for step in ("compress", "decompress"):
      slope[step] = round((last[f"{step}_mb"] - first[f"{step}_mb"])
                          / (last["megapixels"] - first["megapixels"]), 1)
    print("\npeak MB per megapixel: " + ", ".join(
        f"{k} {v}" for k, v in slope.items()))
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(out, exist_ok=True)
  name = FLAGS.model or zoo.DEFAULT_MODEL
  path = os.path.join(out, f"big_image_{name}.json")
  with open(path, "w") as f:
    json.dump(dict(model=name, rows=rows, mb_per_megapixel=slope), f,
              indent=2)
  print(f"results in {path}")


if __name__ == "__main__":
  app.run(main)
