"""Coding speed of tfvrc beside tensorflow-compression's bmshj2018.py.

Times compress and decompress per image in-process (median over the images,
after one warm-up that traces both functions) and the whole `compress` /
`decompress` command (median of --cli_runs on the first image), for a tfvrc
model and for the reference script `models/bmshj2018.py` of the
tensorflow-compression repository, run locally on the same CPU. Prints a table
with the ratios and writes JSON.

  python experiments/speed/speed.py \
      --tfc_models /path/to/compression/models \
      --tfc_pythonpath /path/with/tensorflow_datasets_stub

bmshj2018.py imports tensorflow_datasets at the top but only uses it when
training without --train_glob, so --tfc_pythonpath can point at a folder with
an import-only stub instead of an install. bmshj2018 has one width for the
transforms and the latent, so a reference prepared here gets num_filters = our
N (the transform width, which sets most of the convolution cost) and a latent
of N channels, fewer than ours. To compare at our M as well, make a local
copy of bmshj2018.py whose last analysis and last hyper-synthesis layers have
M filters (a `--latent_filters` argument; never commit it), train it as
prepare_bmshj2018 does, and pass that model as --tfc_model_path: its compress
and decompress commands are the unmodified script's.

Each side's in-process times come from its own child process (inprocess.py),
so the two codecs never share a TensorFlow runtime; this parent does not load
TensorFlow.
"""

import datetime
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)  # run from a checkout without installing

# pylint: disable=wrong-import-position
from tfvrc import cpu  # no TensorFlow: this process only times others

FLAGS = flags.FLAGS
flags.DEFINE_string("data", "../shared/data/kodak", "Folder of PNG test "
                    "images; a relative path is taken from the repo root.")
flags.DEFINE_string("model", None, "tfvrc zoo name, weights file or "
                    "SavedModel (default: tfvrc's default model).")
flags.DEFINE_string("tfc_models", None, "Folder containing tensorflow-"
                    "compression's bmshj2018.py; without it the reference is "
                    "skipped.")
flags.DEFINE_string("tfc_model_path", None, "A bmshj2018 SavedModel made by "
                    "its train command; by default one is prepared in a "
                    "temporary folder with a few training steps.")
flags.DEFINE_string("tfc_pythonpath", None, "Extra PYTHONPATH for running "
                    "bmshj2018.py (e.g. a tensorflow_datasets stub).")
flags.DEFINE_integer("images", None, "Use the first N images (default: all).",
                     lower_bound=1)
flags.DEFINE_integer("cli_runs", 3, "Runs of each command line.",
                     lower_bound=1)
flags.DEFINE_string("out", "experiments/speed/results/speed.json", "JSON "
                    "output; a relative path is taken from the repo root.")

ROWS = (("in-process compress", "in_process", "compress_s"),
        ("in-process decompress", "in_process", "decompress_s"),
        ("CLI compress", "cli", "compress_s"),
        ("CLI decompress", "cli", "decompress_s"))


def child_env(pythonpath):
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      p for p in (pythonpath, env.get("PYTHONPATH")) if p)
  return env


def run(cmd, env):
  """Runs a command; its stdout, or an error with the end of its stderr."""
  proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                        check=False)
  if proc.returncode:
    raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                       + "\n".join(proc.stderr.splitlines()[-15:]))
  return proc.stdout


def time_in_process(codec, images, env, extra_flags):
  """Runs inprocess.py for one codec and parses its JSON line."""
  stdout = run([sys.executable, os.path.join(HERE, "inprocess.py"),
                f"--codec={codec}", f"--images={','.join(images)}"]
               + extra_flags, env)
  return json.loads(stdout.strip().splitlines()[-1])


def time_cli(compress_cmd, decompress_cmd, env):
  """Median wall time of whole compress and decompress processes."""
  runs = {"compress_runs_s": [], "decompress_runs_s": []}
  for _ in range(FLAGS.cli_runs):
    for key, cmd in (("compress_runs_s", compress_cmd),
                     ("decompress_runs_s", decompress_cmd)):
      start = time.perf_counter()
      run(cmd, env)
      runs[key].append(time.perf_counter() - start)
  runs["compress_s"] = statistics.median(runs["compress_runs_s"])
  runs["decompress_s"] = statistics.median(runs["decompress_runs_s"])
  return runs


def bench_tfvrc(images, tmp):
  env = child_env(REPO)
  model_flag = ["--model", FLAGS.model] if FLAGS.model else []
  result = time_in_process("tfvrc", images, env, model_flag)
  out = os.path.join(tmp, "tfvrc.tfvrc")
  result["cli"] = time_cli(
      [sys.executable, "-m", "tfvrc", "compress", images[0], out, "--force"]
      + model_flag,
      [sys.executable, "-m", "tfvrc", "decompress", out,
       os.path.join(tmp, "tfvrc.png"), "--force"] + model_flag, env)
  result["model"] = FLAGS.model or "(default)"
  return result


def prepare_bmshj2018(script, num_filters, data, tmp, env):
  """Trains bmshj2018 for two tiny steps; only its speed matters here."""
  path = os.path.join(tmp, f"bmshj2018_nf{num_filters}")
  run([sys.executable, script, "--model_path", path, "train",
       "--num_filters", str(num_filters),
       "--train_glob", os.path.join(data, "*.png"),
       "--epochs", "1", "--steps_per_epoch", "2", "--batchsize", "1",
       "--patchsize", "64", "--max_validation_steps", "1",
       "--preprocess_threads", "1",
       "--train_path", os.path.join(tmp, "bmshj2018_train")], env)
  return path


def bench_bmshj2018(images, data, num_filters, tmp):
  env = child_env(FLAGS.tfc_pythonpath)
  script = os.path.join(os.path.abspath(FLAGS.tfc_models), "bmshj2018.py")
  model_path = FLAGS.tfc_model_path
  if model_path is None:
    if num_filters is None:
      raise app.UsageError("the tfvrc model does not say its num_filters; "
                           "pass --tfc_model_path")
    print(f"Preparing a bmshj2018 model with num_filters={num_filters}...")
    model_path = prepare_bmshj2018(script, num_filters, data, tmp, env)
  model_path = os.path.abspath(model_path)
  result = time_in_process(
      "bmshj2018", images, env, [f"--tfc_models={os.path.dirname(script)}",
                                 f"--tfc_model_path={model_path}"])
  out = os.path.join(tmp, "bmshj2018.tfci")
  result["cli"] = time_cli(
      [sys.executable, script, "--model_path", model_path, "compress",
       images[0], out],
      [sys.executable, script, "--model_path", model_path, "decompress", out,
       os.path.join(tmp, "bmshj2018.png")], env)
  result.update(script=script, model_path=model_path,
                prepared=FLAGS.tfc_model_path is None)
  return result


def table(ours, theirs):
  """The printed table, and the ratios tfvrc / bmshj2018 by row."""
  lines = [f"{'':24}{'tfvrc (s)':>12}{'bmshj2018 (s)':>15}"
           f"{'tfvrc/bmshj2018':>17}"]
  ratios = {}
  for label, group, key in ROWS:
    a = ours[group][key]
    if theirs:
      b = theirs[group][key]
      ratios[f"{group}_{key[:-2]}"] = a / b
      lines.append(f"{label:24}{a:12.3f}{b:15.3f}{a / b:17.2f}")
    else:
      lines.append(f"{label:24}{a:12.3f}{'skipped':>15}{'-':>17}")
  return "\n".join(lines), ratios


def main(argv):
  del argv
  data = os.path.normpath(os.path.join(REPO, FLAGS.data))
  images = sorted(glob.glob(os.path.join(data, "*.png")))[:FLAGS.images]
  if not images:
    raise app.UsageError(f"no PNG images in {data}")
  report = dict(
      date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
      cpu=cpu.field("model name"), nproc=len(os.sched_getaffinity(0)),
      loadavg_at_start=os.getloadavg(), data=data, images=len(images),
      cli_image=images[0], cli_runs=FLAGS.cli_runs)
  with tempfile.TemporaryDirectory(prefix="tfvrc_speed_") as tmp:
    print(f"Timing tfvrc on {len(images)} images...")
    report["tfvrc"] = bench_tfvrc(images, tmp)
    if FLAGS.tfc_models:
      print("Timing bmshj2018...")
      report["bmshj2018"] = bench_bmshj2018(
          images, data, report["tfvrc"]["N"], tmp)
    else:
      print("bmshj2018 reference skipped (no --tfc_models).")
      report["bmshj2018"] = None
  text, report["ratio_tfvrc_over_bmshj2018"] = table(
      report["tfvrc"], report["bmshj2018"])
  print(", ".join(f"{name}: N={report[name]['N']} M={report[name]['M']}"
                  for name in ("tfvrc", "bmshj2018") if report[name]))
  print(text)
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w", encoding="utf-8") as f:
    json.dump(report, f, indent=2)
  print(f"Wrote {out}")


if __name__ == "__main__":
  app.run(main)
