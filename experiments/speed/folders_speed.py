"""Images per second through the command line, in one run (wall time,
start-up included): one `tfvrc compress` call per image without the cache
of frozen models (before it existed), the same with it (primed by one call
first), and `tfvrc compress-dir` on the folder (one process, one loaded
model). Prints a table with ratios to the first row; writes JSON.

  python experiments/speed/folders_speed.py --images 8
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FLAGS = flags.FLAGS
flags.DEFINE_string("data", "../shared/data/kodak", "Test images.")
flags.DEFINE_integer("images", 8, "First N images.")
flags.DEFINE_string("json", "experiments/speed/results/folders_speed.json",
                    "JSON output, from the repo root.")


def tfvrc(cache, *args):
  """Wall seconds of one `python -m tfvrc ARGS` with TFVRC_CACHE=cache."""
  start = time.perf_counter()
  subprocess.run([sys.executable, "-m", "tfvrc", *args], check=True,
                 capture_output=True, cwd=REPO,
                 env=dict(os.environ, PYTHONPATH=REPO, TFVRC_CACHE=cache))
  return time.perf_counter() - start


def per_image_calls(cache, folder, names, out):
  os.makedirs(out)
  return sum(tfvrc(cache, "compress", os.path.join(folder, n),
                   os.path.join(out, n + ".tfvrc")) for n in names)


def main(argv):
  del argv
  data = os.path.join(REPO, FLAGS.data)
  names = sorted(n for n in os.listdir(data) if n.endswith(".png"))
  names = names[:FLAGS.images]
  with tempfile.TemporaryDirectory() as work:
    folder = os.path.join(work, "in")
    os.makedirs(folder)
    for name in names:
      shutil.copy(os.path.join(data, name), folder)
    cache = os.path.join(work, "cache")
    tfvrc(cache, "compress", os.path.join(folder, names[0]),
          os.path.join(work, "prime.tfvrc"))  # stores the frozen model
    seconds = {
        "tfvrc compress per image, no cache (before)": per_image_calls(
            "off", folder, names, os.path.join(work, "off")),
        "tfvrc compress per image, frozen-model cache (after)":
            per_image_calls(cache, folder, names, os.path.join(work, "on")),
        "tfvrc compress-dir": tfvrc("off", "compress-dir", folder,
                                    os.path.join(work, "dir"), "--quiet")}
  first = next(iter(seconds.values()))
  print(f"{'':<54} {'s/image':>8} {'images/s':>9} {'speed-up':>9}")
  for label, total in seconds.items():
    print(f"{label:<54} {total / len(names):>8.2f} "
          f"{len(names) / total:>9.3f} {first / total:>8.2f}x")
  print(f"({len(names)} Kodak images, load average "
        f"{os.getloadavg()[0]:.1f})")
  with open(os.path.join(REPO, FLAGS.json), "w") as f:
    json.dump(dict(images=len(names), seconds=seconds,
                   images_per_s={k: len(names) / v
                                 for k, v in seconds.items()},
                   load_average=os.getloadavg()), f, indent=2)


if __name__ == "__main__":
  app.run(main)
