"""One image from the command line, cold: `tfvrc compress` and `decompress`
with the cache of frozen models off (build and trace the model each run)
and on (code through the frozen signatures an earlier run cached), side by
side, and the floor under both: a process that only imports TensorFlow.

Every run is a fresh process; the cache is primed by one run before the
timed ones, and the runs of each setting are interleaved, so a change in
the machine's load falls on all of them. Prints medians and the ratios;
writes JSON.

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


def timed(command, cache="off"):
  """Wall seconds of `command` (a list) in a fresh process."""
  start = time.perf_counter()
  subprocess.run(command, env=dict(os.environ, TFVRC_CACHE=cache), check=True,
                 capture_output=True)
  return time.perf_counter() - start


def tfvrc(*args):
  return [sys.executable, "-m", "tfvrc", *args, "--force"]


def main(_):
  image = os.path.join(REPO, FLAGS.image)
  model = ["--model", FLAGS.model] if FLAGS.model else []
  results = {}
  with tempfile.TemporaryDirectory() as tmp:
    coded = os.path.join(tmp, "a.tfvrc")
    commands = {"compress": tfvrc("compress", *model, image, coded),
                "decompress": tfvrc("decompress", coded,
                                    os.path.join(tmp, "a.png"))}
    cache = os.path.join(tmp, "cache")
    timed(commands["compress"], cache)  # primes the cache
    runs = {}
    for _ in range(FLAGS.runs):
      runs.setdefault("import_tensorflow", []).append(
          timed([sys.executable, "-c", "import tensorflow"]))
      for name, command in commands.items():
        for setting, value in (("off", "off"), ("cached", cache)):
          runs.setdefault(f"{name}_{setting}", []).append(
              timed(command, value))
  for key, values in runs.items():
    results[f"{key}_s"] = statistics.median(values)
    results[f"{key}_runs_s"] = values
  print(f"import tensorflow alone: {results['import_tensorflow_s']:.2f} s")
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
