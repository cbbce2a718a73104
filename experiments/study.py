"""What the variable-rate studies (experiments/gained, experiments/modulated)
share: a small common scale, training each run once, Kodak evaluation through
real files, BD-rates, parameter counts, the plot and the JSON.

Runs are trained by `python -m tfvrc.train` in a subprocess, one output
folder per run under --runs, logged to RUN/train.log; an interrupted run
resumes from its checkpoint, and a finished one (weights.npz with --steps
steps) is not trained again, so the studies share their independent models.
Kodak results of a run are cached beside its weights (RUN/kodak.json), keyed
by the weights' digest, the images and the rates.
"""

import hashlib
import json
import os
import subprocess
import sys

from absl import flags
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)  # run from a checkout without installing

# pylint: disable=wrong-import-position
from tfvrc import evaluate, models, plot, zoo

FLAGS = flags.FLAGS
flags.DEFINE_string("train_data", "../shared/data/train", "Training images; "
                    "a relative path is taken from the repo root.")
flags.DEFINE_string("data", "../shared/data/kodak", "Test images.")
flags.DEFINE_string("anchors", "experiments/baselines/results", "Folder of "
                    "the classical codecs' Kodak results (webp.json, "
                    "hevc444.json) from experiments/baselines/run.py.")
flags.DEFINE_string("runs", "/tmp/tfvrc-studies", "Where runs train (not in "
                    "the repository); shared by the studies.")
flags.DEFINE_integer("steps", 1500, "Training steps of every run.",
                     lower_bound=1)
flags.DEFINE_integer("num_filters", 32, "N of every run.")
flags.DEFINE_integer("latent_depth", 48, "M of every run.")
flags.DEFINE_integer("patch_size", 64, "Training crop size.")
flags.DEFINE_integer("batch_size", 8, "Training batch size.")
flags.DEFINE_float("lr", 5e-4, "Adam learning rate, x0.3 after 3/4 of the "
                   "steps.")
flags.DEFINE_list("lmbdas", ["0.0018", "0.0067", "0.025", "0.0932"],
                  "The lambdas (CompressAI's q1, q3, q5, q7).")
flags.DEFINE_integer("images", None, "Use the first N test images.",
                     lower_bound=1)
flags.DEFINE_integer("rate_steps", 31, "Continuous rates per variable-rate "
                     "model (plus its trained points).", lower_bound=2)
flags.DEFINE_bool("progress", True, "Show progress bars.")
flags.DEFINE_string("out", None, "Output folder (default: "
                    "experiments/STUDY/results).")
flags.DEFINE_string("init_from", None, "A zoo name or weights file every run "
                    "starts from (the trainer's --init_from): a pre-training "
                    "all runs share, outside the --steps each run gets, so "
                    "short runs can reach the quality a question needs.")

ANCHORS = ("webp", "hevc444")
METRICS = ("psnr-rgb", "ms-ssim-rgb")


def from_repo(path):
  return os.path.normpath(os.path.join(REPO, path))


def lmbdas():
  return [float(l) for l in FLAGS.lmbdas]


def scale():
  """The settings every run shares, for the JSON and the note."""
  return dict(num_filters=FLAGS.num_filters, latent_depth=FLAGS.latent_depth,
              steps=FLAGS.steps, patch_size=FLAGS.patch_size,
              batch_size=FLAGS.batch_size, lr=FLAGS.lr, lmbdas=lmbdas(),
              train_data=from_repo(FLAGS.train_data),
              init_from=FLAGS.init_from and {
                  "weights": FLAGS.init_from,
                  "steps": zoo.read_meta(start_weights())["steps"]})


def start_weights():
  """The weights file of --init_from (a zoo name or a path), or None."""
  if not FLAGS.init_from:
    return None
  if FLAGS.init_from in zoo.names():
    return zoo.path_of(FLAGS.init_from)
  return from_repo(FLAGS.init_from)


def independent_runs():
  """Name and trainer flags of one fixed-rate hyperprior per lambda: the
  reference curve of both studies."""
  return {f"hyperprior-{l:g}": ("--model=hyperprior", f"--lmbda={l}")
          for l in lmbdas()}


def run_dir(name):
  return os.path.join(FLAGS.runs, name)


def train(name, *model_flags, init_from=None):
  """Trains run `name` (`tfvrc.train` flags for the model) unless done,
  from `init_from` (default: --init_from's weights, if any); returns its
  weights file."""
  out = run_dir(name)
  weights = os.path.join(out, "weights.npz")
  init_from = init_from or start_weights()
  start = [f"--init_from={init_from}"] if init_from else []
  if os.path.exists(weights) and _trained_as(weights, start):
    print(f"{name}: trained ({weights})", flush=True)
    return weights
  os.makedirs(out, exist_ok=True)
  steps_per_epoch = min(250, FLAGS.steps)
  family = next(f.split("=", 1)[1] for f in model_flags
                if f.startswith("--model="))
  depth = ([f"--latent_depth={FLAGS.latent_depth}"]
           if "latent_depth" in models.config_keys(family) else [])
  command = [
      sys.executable, "-m", "tfvrc.train", f"--out={out}",
      f"--data={from_repo(FLAGS.train_data)}",
      f"--num_filters={FLAGS.num_filters}", *depth,
      f"--patch_size={FLAGS.patch_size}", f"--batch_size={FLAGS.batch_size}",
      f"--steps={FLAGS.steps}", f"--steps_per_epoch={steps_per_epoch}",
      f"--checkpoint_every={steps_per_epoch}", f"--lr={FLAGS.lr}",
      f"--lr_decay_steps={FLAGS.steps * 3 // 4}", "--lr_decay_factor=0.3",
      "--seed=1", "--verbose=2", *model_flags, *start]
  print(f"{name}: training {FLAGS.steps} steps, log in {out}/train.log",
        flush=True)
  with open(os.path.join(out, "train.log"), "a", encoding="utf-8") as log:
    done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                          cwd=REPO, check=False)
  if done.returncode:
    raise RuntimeError(f"training {name} failed (exit {done.returncode}); "
                       f"see {out}/train.log")
  return weights


def _trained_as(weights, start):
  """Whether the run's weights saw --steps steps from the same start (the
  trainer keeps its command line in the notes)."""
  meta = zoo.read_meta(weights)
  started = [f for f in meta["notes"].split() if f.startswith("--init_from=")]
  return meta["steps"] == FLAGS.steps and started == start


def load(name):
  return zoo.load_file(os.path.join(run_dir(name), "weights.npz"), name)


def parameters(codec):
  return int(sum(np.prod(w.shape) for w in codec.model.trainable_weights))


def images():
  return evaluate.load_images(
      evaluate.list_images(from_repo(FLAGS.data), FLAGS.images))


def evaluate_run(name, test_images, rates=None):
  """Kodak results of run `name` at `rates` (default: its one point)."""
  model = load(name)
  rates = evaluate.model_rates(model, rates, steps=1)
  key = hashlib.sha256(json.dumps(
      [bytes(model.digest).hex(), [n for n, _ in test_images], rates]
  ).encode()).hexdigest()
  cache = os.path.join(run_dir(name), "kodak.json")
  if os.path.exists(cache):
    with open(cache, encoding="utf-8") as f:
      cached = json.load(f)
    if cached["key"] == key:
      # Named by the run (a run folder may have been renamed since).
      return (dict(cached["results"], name=name, description=(
          evaluate.describe_model(model, len(test_images)))),
              cached["parameters"])
  results, _ = evaluate.evaluate_model(model, test_images, rates,
                                       progress=FLAGS.progress)
  with open(cache, "w", encoding="utf-8") as f:
    json.dump({"key": key, "results": results,
               "parameters": parameters(model)}, f)
  return results, parameters(model)


def train_independent():
  for name, model_flags in independent_runs().items():
    train(name, *model_flags)


def independent_curve(test_images):
  """The independent runs as one curve; with their total parameters."""
  names = list(independent_runs())
  points = [evaluate_run(name, test_images) for name in names]
  results = {key: [r["results"][key][0] for r, _ in points]
             for key in points[0][0]["results"]}
  return ({"name": "independent models", "description": f"{len(names)} "
           "fixed-rate hyperpriors trained independently, one per lambda",
           "results": results}, sum(p for _, p in points))


def evaluate_runs(names, test_images, rates):
  """(independent curve, the curves of runs `names` at `rates`, parameter
  counts by name)."""
  independent, count = independent_curve(test_images)
  curves, params = [], {"independent models (all)": count}
  for name in names:
    results, params[name] = evaluate_run(name, test_images, rates)
    curves.append(results)
  return independent, curves, params


def subset(curve, rates, label):
  """The points of `curve` at `rates` (e.g. a gained model's levels)."""
  keep = [i for i, r in enumerate(curve["results"]["rate"]) if r in rates]
  return {"name": label, "description": curve["description"],
          "results": {k: [v[i] for i in keep]
                      for k, v in curve["results"].items()}}


def anchors():
  return [evaluate.read_results(os.path.join(from_repo(FLAGS.anchors),
                                             f"{name}.json"))
          for name in ANCHORS]


def bd_table(tests, references):
  """Every test curve against every reference curve, in both metrics."""
  return [{"test": test["name"], "anchor": reference["name"],
           **evaluate.compare_metrics(reference, test, METRICS)}
          for test in tests for reference in references]


def format_bd_table(rows):
  lines = [f"{'test':<36} {'anchor':<24} {'BD-rate %':>10} {'BD-PSNR':>8} "
           f"{'BD-rate %':>10} {'BD-MSSSIM':>9}",
           f"{'':<36} {'':<24} {'(PSNR)':>10} {'dB':>8} {'(MS-SSIM)':>10} "
           f"{'dB':>9}"]
  for row in rows:
    cells = " ".join(
        f"{evaluate.format_delta(row[m]['bd_rate'], 10, 2)} "
        f"{evaluate.format_delta(row[m]['bd_quality'], 8 + i, 3)}"
        for i, m in enumerate(METRICS))
    lines.append(f"{row['test'][:36]:<36} {row['anchor'][:24]:<24} {cells}")
  return "\n".join(lines)


def bpp_spans(curves):
  """The bpp interval each curve covers: a Bjontegaard delta only speaks
  for the overlap of two curves, so a narrow span says little."""
  return {c["name"]: [min(c["results"]["bpp"]), max(c["results"]["bpp"])]
          for c in curves}


def write(study, num_images, curves, rows, params, extra=None):
  """Prints the BD table, parameter counts and bpp spans; writes
  OUT/STUDY.json (with the `extra` entries), rd.png (PSNR) and rd-msssim.png
  (MS-SSIM dB)."""
  print(format_bd_table(rows))
  print("\nparameters: " + ", ".join(f"{k} {v:,}" for k, v in params.items()))
  out = from_repo(FLAGS.out or f"experiments/{study}/results")
  os.makedirs(out, exist_ok=True)
  spans = bpp_spans(curves)
  print("\nbpp covered: " + ", ".join(
      f"{name} {lo:.3f}-{hi:.3f}" for name, (lo, hi) in spans.items()))
  report = {"study": study, "scale": scale(), "images": num_images,
            "parameters": params, "bpp_spans": spans, "bd_rates": rows,
            "curves": curves,
            "quality": "psnr-rgb in dB; ms-ssim-rgb as -10 log10(1 - "
                       "MS-SSIM)", **(extra or {})}
  evaluate.write_outputs({os.path.join(out, f"{study}.json"): (
      json.dumps(report, indent=2) + "\n").encode()}, force=True)
  for name, metric in (("rd.png", "psnr-rgb"), ("rd-msssim.png",
                                                 "ms-ssim-rgb")):
    plot.write_plot(os.path.join(out, name), curves, force=True,
                    metric=metric, db=True, max_bpp=2.,
                    title=f"Kodak, {FLAGS.num_filters}/{FLAGS.latent_depth} "
                          f"channels, {FLAGS.steps} steps each"
                          + (f" from {FLAGS.init_from}" if FLAGS.init_from
                             else ""))
  print(f"\nresults in {out}/ ({study}.json, rd.png, rd-msssim.png)")

