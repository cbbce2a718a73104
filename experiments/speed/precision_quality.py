"""Quality per step of bfloat16 training against float32.

Three runs of `python -m tfvrc.train` from scratch with the same flags: float32
at --seed, bfloat16 (`--mixed_precision`) at the same seed (same initial
weights, images and crops), and float32 at --seed + 1, whose distance from the
first is the seed-to-seed noise the bfloat16 difference is judged against.
Each logs a validation loss every --steps_per_epoch steps on fixed centre
crops of --val_data. Prints the curves and the final gaps, writes JSON and a
plot.

  nice -n 10 python experiments/speed/precision_quality.py
"""

import glob
import json
import os
import subprocess
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FLAGS = flags.FLAGS
flags.DEFINE_string("data", "../shared/data/train", "Training images.")
flags.DEFINE_string("val_data", "../shared/data/kodak", "Validation images.")
flags.DEFINE_integer("val_images", 24, "Validation images used.")
flags.DEFINE_string("runs", "/tmp/tfvrc-precision", "Where the runs train.")
flags.DEFINE_integer("steps", 3000, "Steps per run.")
flags.DEFINE_integer("steps_per_epoch", 250, "Steps between validations.")
flags.DEFINE_integer("seed", 1, "Seed of the float32 / bfloat16 pair.")
flags.DEFINE_list("train_flags", [
    "--model=hyperprior", "--lmbda=0.0067", "--num_filters=64",
    "--latent_depth=96", "--patch_size=64", "--batch_size=8", "--lr=5e-4"],
                  "The scale every run trains at.")
flags.DEFINE_string("json", "experiments/speed/results/precision_quality.json",
                    "JSON output, from the repo root.")

RUNS = (("float32", False, 0), ("bfloat16", True, 0),
        ("float32-seed+1", False, 1))


def from_repo(path):
  return path if os.path.isabs(path) else os.path.join(REPO, path)


def train(name, mixed_precision, seed_offset):
  """Trains (or resumes) one run; returns its folder."""
  out = os.path.join(FLAGS.runs, name)
  command = [
      sys.executable, "-m", "tfvrc.train", *FLAGS.train_flags,
      f"--data={from_repo(FLAGS.data)}", f"--val_data={from_repo(FLAGS.val_data)}",
      f"--val_images={FLAGS.val_images}", f"--steps={FLAGS.steps}",
      f"--steps_per_epoch={FLAGS.steps_per_epoch}",
      f"--checkpoint_every={FLAGS.steps_per_epoch}",
      f"--seed={FLAGS.seed + seed_offset}",
      f"--mixed_precision={mixed_precision}", f"--out={out}"]
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "train.log"), "a") as log:
    subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT,
                   cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
  return out


def validation_curve(out, tag="epoch_loss"):
  """(steps, values) of a run's validation `tag`, in step order."""
  points = {}
  for path in glob.glob(os.path.join(out, "logs", "validation", "events.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          points[event.step] = float(tf.make_ndarray(value.tensor))
  steps = sorted(points)
  return steps, [points[s] for s in steps]


def main(argv):
  del argv
  curves = {}
  for name, mixed, offset in RUNS:
    steps, loss = validation_curve(train(name, mixed, offset))
    # Keras logs validation per epoch; epoch e ends at step e * steps/epoch.
    curves[name] = dict(steps=[(s + 1) * FLAGS.steps_per_epoch for s in steps],
                        validation_loss=loss)
  final = {name: c["validation_loss"][-1] for name, c in curves.items()}
  last = {name: np.mean(c["validation_loss"][-4:]) for name, c in curves.items()}
  gaps = dict(
      bfloat16_minus_float32=final["bfloat16"] - final["float32"],
      seed_noise=final["float32-seed+1"] - final["float32"],
      bfloat16_minus_float32_last4=last["bfloat16"] - last["float32"],
      seed_noise_last4=last["float32-seed+1"] - last["float32"])
  print(f"{'step':>6} " + " ".join(f"{n:>15}" for n in curves))
  for i, step in enumerate(curves["float32"]["steps"]):
    print(f"{step:>6} " + " ".join(
        f"{c['validation_loss'][i]:>15.4f}" for c in curves.values()))
  for k, v in gaps.items():
    print(f"{k}: {v:+.4f}")
  out = from_repo(FLAGS.json)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w") as f:
    json.dump(dict(train_flags=FLAGS.train_flags, steps=FLAGS.steps,
                   seed=FLAGS.seed, val_data=FLAGS.val_data,
                   val_images=FLAGS.val_images, curves=curves, gaps=gaps),
              f, indent=2)
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
  figure, axes = pyplot.subplots(figsize=(6, 4))
  for name, c in curves.items():
    axes.plot(c["steps"], c["validation_loss"], label=name)
  axes.set(xlabel="step", ylabel="validation loss (bpp + lambda MSE)",
           title="float32 vs bfloat16 training")
  axes.legend()
  figure.savefig(out[:-len(".json")] + ".png", dpi=100, bbox_inches="tight")
  print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
