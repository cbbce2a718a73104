"""Kodak baselines: five classical codecs, the default model, published curves.

  nice -n 5 python experiments/baselines/run.py [--images N] [--codecs jpeg,webp]

Runs `tfvrc bench` for JPEG, WebP, HEVC 4:4:4, AVIF and JPEG XL and `tfvrc
eval` for the built-in default model (`zoo.load()`), in this process, on the
same images; writes results/NAME.json (CompressAI schema) and results/NAME.csv
(per image); plots them with CompressAI's published mbt2018-mean and BPG 4:4:4
curves (results/rd.png in PSNR, results/rd-msssim.png in MS-SSIM dB); and
prints and writes (results/bdrate.json) the model's BD-rate against each.

A model with one rate point (fixed-rate) cannot have a Bjøntegaard delta; it
gets the one-point form: its rate change at the anchor's quality and its
quality change at the anchor's rate (`metrics.rate_change_at`).
"""

import csv
import json
import os
import sys

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)  # run from a checkout without installing

# pylint: disable=wrong-import-position
from tfvrc import classical, evaluate, plot, zoo

FLAGS = flags.FLAGS
flags.DEFINE_string("data", "../shared/data/kodak", "Folder of test images; "
                    "a relative path is taken from the repo root.")
flags.DEFINE_string("reference", "../shared/data/rd_reference", "CompressAI's "
                    "published results (its results/image layout).")
flags.DEFINE_string("model", None, "tfvrc zoo name, weights file or "
                    "SavedModel (default: tfvrc's default model).")
flags.DEFINE_list("codecs", list(classical.CODECS), "Classical codecs to run.")
flags.DEFINE_integer("images", None, "Use the first N images (default: all).",
                     lower_bound=1)
flags.DEFINE_integer("rate_steps", 6, "Rates over the model's rate_range.",
                     lower_bound=1)
flags.DEFINE_float("max_bpp", 2., "Rate axis limit of the plots.")
flags.DEFINE_string("out", "experiments/baselines/results", "Output folder; "
                    "a relative path is taken from the repo root.")
flags.DEFINE_bool("progress", True, "Show progress bars.")
flags.DEFINE_bool("reuse_codecs", False, "Read a classical codec's results "
                  "from --out instead of running it again, when its CSV has "
                  "the same images and settings (e.g. to re-run only the "
                  "model after new weights).")
flags.DEFINE_bool("reuse_model", False, "Read the model's results from --out "
                  "instead of coding again, when its CSV has the same images "
                  "and rates and its JSON the same name, steps and weights "
                  "digest (e.g. written there by `tfvrc eval -o --csv` of "
                  "the same weights).")

# CompressAI's 8-bit-decoded run: PSNR on the rounded image, as ours.
PUBLISHED = {
    "CompressAI mbt2018-mean (published)":
        "kodak_8bit-decoded/compressai-mbt2018-mean_mse_ans_cuda.json",
    "CompressAI BPG 4:4:4 (published)": "kodak/bpg_444_x265_ycbcr.json",
}
METRICS = ("psnr-rgb", "ms-ssim-rgb")


def from_repo(path):
  return os.path.normpath(os.path.join(REPO, path))


def reusable(out, name, description, setting_key, settings, images):
  """Saved results NAME.json/.csv in `out` if they cover these images at
  these settings and their description starts with `description` (the
  settings and tool version, or the model's weights)."""
  stem = os.path.join(out, name)
  if not (os.path.exists(stem + ".json") and os.path.exists(stem + ".csv")):
    return None
  results = evaluate.read_results(stem + ".json")
  with open(stem + ".csv", encoding="utf-8") as f:
    done = {(r["image"], float(r[setting_key])) for r in csv.DictReader(f)}
  wanted = {(image, float(s)) for image, _ in images for s in settings}
  same = (done == wanted and results["description"].startswith(description))
  return results if same else None


def save(out, results, rows):
  stem = os.path.join(out, results["name"])
  evaluate.write_outputs({stem + ".json": evaluate.results_bytes(results),
                          stem + ".csv": evaluate.rows_bytes(rows)},
                         force=True)
  print(evaluate.format_table(results), end="\n\n", flush=True)


def bd_rows(test, anchors):
  """The test against each anchor, per metric."""
  return [{"anchor": anchor["name"],
           **evaluate.compare_metrics(anchor, test, METRICS)}
          for anchor in anchors]


def format_bd_table(test, rows):
  def cells(delta):
    return (f"{evaluate.format_delta(delta['bd_rate'], 10, 2)} "
            f"{evaluate.format_delta(delta['bd_quality'], 8, 3)}")

  points = len(test["results"]["bpp"])
  method = ("Bjøntegaard, PCHIP" if points > 1 else
            "one rate point: rate change at the anchor's quality, quality "
            "change at its rate")
  lines = [f"{test['name']} against each anchor ({method}; negative rate = "
           "fewer bits; MS-SSIM in dB)",
           f"{'anchor':<38} {'rate %':>10} {'PSNR dB':>8} {'rate %':>10} "
           f"{'MS-SSIM':>8}",
           f"{'':<38} {'(PSNR)':>10} {'':>8} {'(MS-SSIM)':>10} {'dB':>8}"]
  notes = []
  for row in rows:
    lines.append(f"{row['anchor'][:38]:<38} "
                 f"{cells(row['psnr-rgb'])} {cells(row['ms-ssim-rgb'])}")
    notes += [e for m in METRICS for e in row[m]["errors"]]
  return "\n".join(lines + [f"n/a: {note}" for note in notes])


def main(argv):
  del argv
  try:
    run()
  except (OSError, ValueError) as e:
    sys.exit(f"run.py: error: {e}")


def run():
  out = from_repo(FLAGS.out)
  os.makedirs(out, exist_ok=True)
  selected = classical.get(FLAGS.codecs)  # fails now, not after an hour
  published = []
  for name, path in PUBLISHED.items():
    curve = evaluate.read_results(os.path.join(from_repo(FLAGS.reference),
                                               path))
    curve["name"] = name
    published.append(curve)
  images = evaluate.load_images(
      evaluate.list_images(from_repo(FLAGS.data), FLAGS.images))
  print(f"{len(images)} images from {from_repo(FLAGS.data)}\n")

  benched = []
  for codec in selected:
    results = (reusable(out, codec.name, codec.description(), "quality",
                        codec.qualities, images)
               if FLAGS.reuse_codecs else None)
    if results:
      print(f"{codec.name}: reusing {out}/{codec.name}.json\n")
    else:
      results, rows = classical.bench(codec, images, progress=FLAGS.progress)
      save(out, results, rows)
    benched.append(results)

  model = zoo.load(FLAGS.model)
  rates = evaluate.model_rates(model, steps=FLAGS.rate_steps)
  results = (reusable(out, model.codec_name,
                      evaluate.describe_model(model, len(images)), "rate",
                      rates, images)
             if FLAGS.reuse_model else None)
  if results:
    print(f"{model.codec_name}: reusing {out}/{model.codec_name}.json\n")
  else:
    results, rows = evaluate.evaluate_model(model, images, rates,
                                            progress=FLAGS.progress)
    save(out, results, rows)

  curves = [results] + benched + published
  for name, metric in (("rd.png", "psnr-rgb"), ("rd-msssim.png",
                                                 "ms-ssim-rgb")):
    plot.write_plot(os.path.join(out, name), curves, force=True,
                    metric=metric, db=True, max_bpp=FLAGS.max_bpp,
                    title=f"Kodak ({len(images)} images)")

  rows = bd_rows(results, benched + published)
  print(format_bd_table(results, rows))
  report = {"test": results["name"], "description": results["description"],
            "images": len(images),
            "method": ("bjontegaard-pchip" if len(results["results"]["bpp"])
                       > 1 else "one point"),
            "quality": "psnr-rgb in dB; ms-ssim-rgb as -10 log10(1 - MS-SSIM)",
            "rows": rows}
  evaluate.write_outputs(
      {os.path.join(out, "bdrate.json"):
       (json.dumps(report, indent=2) + "\n").encode()}, force=True)
  print(f"\nresults in {out}/ (*.json, *.csv, rd.png, rd-msssim.png, "
        "bdrate.json)")


if __name__ == "__main__":
  app.run(main)
