"""Issue 15's checks in one command: the long fuzz, the determinism matrix
and the big-image run of every shipped model, each its own script run here
in a child process (writing its JSON to results/), then one table from that
JSON: per part and model, cases, failures, hangs, crashes and peak memory.

  python experiments/reliability/run.py                 # about 1.5-2 h here
  python experiments/reliability/run.py --parts none    # the table only

A failure is a wrong decode in the fuzz (an image that is not the file's)
and a refused decode in the determinism matrix (tables that differ across
settings); a hang is a case past the fuzz's deadline; a crash a decoder
process that died. A big-image row is its two commands (a failure would
stop the run) with their peak resident memory at the largest size.
"""

import json
import os
import subprocess
import sys

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
PARTS = ("fuzz", "determinism", "big_image")

FLAGS = flags.FLAGS
flags.DEFINE_list("parts", list(PARTS), f"Which of {', '.join(PARTS)} to "
                  "run before the table ('none': the table only).")


def _zoo_names():
  sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
  from tfvrc import zoo  # pylint: disable=import-outside-toplevel
  return zoo.names()


def _run(script, *args):
  print(f"--- {script} {' '.join(args)}", flush=True)
  subprocess.run([sys.executable, os.path.join(HERE, f"{script}.py"), *args],
                 check=True)


def _read(name):
  path = os.path.join(RESULTS, name)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def rows(names):
  """The table's rows from the JSON in results/ (parts not run yet are
  left out)."""
  table = []
  fuzz = _read("fuzz.json")
  for row in (fuzz or {}).get("rows", []):
    table.append(("fuzz", row["model"], row["cases"], row["wrong"],
                  row["hung"], row["crashed"], ""))
  determinism = _read("determinism.json")
  for model, row in (determinism or {}).get("models", {}).items():
    table.append(("determinism", model, row["files"], row["refused"], 0, 0,
                  ""))
  for name in names:
    big = _read(f"big_image_{name}.json")
    if big:
      last = big["rows"][-1]
      table.append((f"big image {last['size']}", name, 2, 0, 0, 0,
                    f"{last['compress_mb']:,} / {last['decompress_mb']:,}"))
  return table


def main(argv):
  del argv
  names = _zoo_names()
  parts = [p for p in FLAGS.parts if p != "none"]
  unknown = set(parts) - set(PARTS)
  if unknown:
    raise app.UsageError(f"unknown parts {sorted(unknown)}")
  if "fuzz" in parts:
    _run("fuzz")
  if "determinism" in parts:
    _run("determinism")
  if "big_image" in parts:
    for name in names:
      _run("big_image", f"--model={name}")
  print(f"\n{'part':<22}{'model':<36}{'cases':>7}{'failures':>10}"
        f"{'hangs':>7}{'crashes':>9}  peak MB (compress / decompress)")
  for part, model, cases, failures, hangs, crashes, peak in rows(names):
    print(f"{part:<22}{model:<36}{cases:>7}{failures:>10}{hangs:>7}"
          f"{crashes:>9}  {peak}")


if __name__ == "__main__":
  app.run(main)
