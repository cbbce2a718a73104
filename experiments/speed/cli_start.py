"""One image from the command line, cold: `tfvrc compress` and `decompress`
with the cache of traced models off (build and trace the model each run)
and on (load the SavedModel an earlier run cached), side by side.

Every run is a fresh process; the cache is primed by one run before the
timed ones. Prints medians and the ratios; writes JSON.

  python experiments/speed/cli_start.py                  # the shipped sample
  python experiments/speed/cli_start.py --image ../shared/data/kodak/kodim01.png
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("image", "tfvrc/samples/kodim23.png", "Image (relative "
                    "paths from the repo root).")
flags.DEFINE_string("model", None, "Zoo model (default: the default model).")
flags.DEFINE_integer("runs", 3, "Timed runs of each command and setting.")
flags.DEFINE_string("out", "experiments/speed/results/cli_start.json",
                    "JSON output (relative paths from the repo root).")


def timed(args, cache):
  """Wall seconds of `tfvrc ARGS` in a fresh process."""
  start = time.perf_counter()
  subprocess.run([sys.executable, "-m", "tfvrc", *args, "--force"],
                 env=dict(os.environ, TFVRC_CACHE=cache), check=True,
                 capture_output=True)
  return time.perf_counter() - start


def main(_):
  image = os.path.join(REPO, FLAGS.image)
  model = ["--model", FLAGS.model] if FLAGS.model else []
  results = {}
  with tempfile.TemporaryDirectory() as tmp:
    coded = os.path.join(tmp, "a.tfvrc")
    commands = {"compress": ["compress", *model, image, coded],
                "decompress": ["decompress", coded,
                               os.path.join(tmp, "a.png")]}
    cache = os.path.join(tmp, "cache")
    timed(commands["compress"], cache)  # primes the cache
    for name, args in commands.items():
      for setting, value in (("off", "off"), ("cached", cache)):
        runs = [timed(args, value) for _ in range(FLAGS.runs)]
        results[f"{name}_{setting}_s"] = statistics.median(runs)
        results[f"{name}_{setting}_runs_s"] = runs
  print(f"{'':12}{'cache off (s)':>15}{'cached (s)':>12}{'ratio':>8}")
  for name in commands:
    off, on = results[f"{name}_off_s"], results[f"{name}_cached_s"]
    print(f"{name:12}{off:15.2f}{on:12.2f}{on / off:8.2f}")
  report = dict(image=FLAGS.image, model=FLAGS.model or "(default)",
                runs=FLAGS.runs, loadavg_at_start=os.getloadavg(), **results)
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w") as f:
    json.dump(report, f, indent=2)
  print(f"results in {out}")


if __name__ == "__main__":
  app.run(main)
