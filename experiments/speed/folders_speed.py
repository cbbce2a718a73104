"""Images per second: `tfvrc compress-dir` on a folder against one
`tfvrc compress` call per image, in one run (wall time, start-up included).

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


def tfvrc(*args):
  """Wall seconds of one `python -m tfvrc ARGS`."""
  start = time.perf_counter()
  subprocess.run([sys.executable, "-m", "tfvrc", *args], check=True,
                 capture_output=True, cwd=REPO,
                 env=dict(os.environ, PYTHONPATH=REPO))
  return time.perf_counter() - start


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
    per_call = sum(tfvrc("compress", os.path.join(folder, n),
                         os.path.join(work, n + ".tfvrc")) for n in names)
    batch = tfvrc("compress-dir", folder, os.path.join(work, "out"),
                  "--quiet")
  rows = {"one CLI call per image": len(names) / per_call,
          "compress-dir": len(names) / batch}
  for label, rate in rows.items():
    print(f"{label:<24} {rate:>6.2f} images/s")
  print(f"compress-dir / per-image calls: "
        f"{rows['compress-dir'] / rows['one CLI call per image']:.1f}x "
        f"({len(names)} Kodak images)")
  with open(os.path.join(REPO, FLAGS.json), "w") as f:
    json.dump(dict(images=len(names), images_per_s=rows,
                   seconds=dict(per_image_calls=per_call, compress_dir=batch),
                   load_average=os.getloadavg()), f, indent=2)


if __name__ == "__main__":
  app.run(main)
