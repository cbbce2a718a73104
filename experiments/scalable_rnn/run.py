"""One layered RNN-hyperprior file against independent single-layer models
(Su et al., ICIP 2020).

  nice -n 5 python experiments/scalable_rnn/run.py [--steps 2000] [--runs DIR]
      [--init_from scalable-rnn-mse]

Trains, at one scale (below, in the JSON): the scalable_rnn model with K
layers at the paper's lambdas (0.01, 0.02, 0.04, 0.08), and K independent
single-layer models, one per lambda (scalable_rnn with one lambda: the same
networks and hyperprior, one iteration). Every run gets the same steps: a
step of the layered model runs K iterations and a single-layer step one, so
the K independent models together cost about what the layered one does (an
equal total budget). On Kodak, through real files: the layered model's file
decoded at each prefix k = 1..K, and each independent model. Reports the
BD-rate of the layered curve against the independent one (PSNR, MS-SSIM)
and against WebP and HEVC-intra, the bytes a layered prefix costs over the
independent file at each k, and plots both with the paper's published curve
(PAPERS.md 3.4: the authors' RDdata.xlsx, 400,000 steps at full width).
With --init_from (a layered model of the same N and M, e.g. the zoo's
scalable-rnn-mse), every run starts from it, the layered run as it is and
each single-layer run from its first iteration (`first_layer_start`): short
runs then start where the question can be asked, beyond the first thousands
of steps in which a one-layer model's PSNR does not yet rise with lambda.
Writes experiments/scalable_rnn/results/{scalable_rnn.json, rd.png,
rd-msssim.png}.
"""

import os
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import study  # pylint: disable=wrong-import-position
from tfvrc import models, zoo  # pylint: disable=wrong-import-position

FLAGS = study.FLAGS

# Su et al.'s Kodak averages per iteration ("RNN with Hyper_256_512", sheet
# "MSE" of examples/rnn_iter4/RD/RDdata.xlsx).
PAPER = {"name": "Su et al. 2020 (published)",
         "description": "RNN-based hyperprior, 4 iterations, full width, "
                        "RDdata.xlsx of Sue128/RNN-based-hyper",
         "results": {"bpp": [0.10208, 0.16297, 0.21773, 0.28600],
                     "psnr-rgb": [25.935, 28.078, 29.330, 30.337],
                     "ms-ssim-rgb": [0.90057, 0.92898, 0.93913, 0.94791]}}


def layered_flags():
  return ("--model=scalable_rnn", f"--lmbdas={','.join(FLAGS.lmbdas)}")


def single_layer_runs():
  return {f"rnn-single-{l}": ("--model=scalable_rnn", f"--lmbdas={l}")
          for l in FLAGS.lmbdas}


def overheads(layered, independent):
  """Per k: layered prefix bpp over the independent model's, and the PSNR
  difference (layered minus independent)."""
  a, b = layered["results"], independent["results"]
  return [{"layers": k + 1, "bpp_layered": a["bpp"][k],
           "bpp_independent": b["bpp"][k],
           "extra_bytes_percent": 100 * (a["bpp"][k] / b["bpp"][k] - 1),
           "psnr_difference": a["psnr-rgb"][k] - b["psnr-rgb"][k]}
          for k in range(len(b["bpp"]))]


def first_layer_start(name, lmbda):
  """--init_from's weights (a layered model) cut to its first iteration, at
  `lmbda`: the start of single-layer run `name` (its per-layer hyper-latent
  priors after the first are dropped)."""
  path = os.path.join(study.run_dir(name), "start.npz")
  start = study.start_weights()
  meta = zoo.read_meta(start)
  source = models.create(meta["family"], **meta["config"])
  zoo.init_from(source, start)
  source_keys = zoo.weight_keys(source)
  by_key = {source_keys[w.ref()]: w for w in source.trainable_weights}
  model = models.create(meta["family"], **dict(meta["config"],
                                                lmbdas=[lmbda]))
  for ref, key in zoo.weight_keys(model).items():
    ref.deref().assign(by_key[key])
  os.makedirs(os.path.dirname(path), exist_ok=True)
  zoo.save(model, path, meta["steps"],
           f"first iteration of {FLAGS.init_from}: {meta['notes']}")
  return path


def main(argv):
  del argv
  layers = len(FLAGS.lmbdas)
  study.train("rnn-layered", *layered_flags())
  for lmbda, (name, model_flags) in zip(FLAGS.lmbdas,
                                        single_layer_runs().items()):
    start = (first_layer_start(name, float(lmbda)) if FLAGS.init_from
             else None)
    study.train(name, *model_flags, init_from=start)
  test_images = study.images()
  layered, layered_params = study.evaluate_run(
      "rnn-layered", test_images, [float(k) for k in range(1, layers + 1)])
  points = [study.evaluate_run(name, test_images)
            for name in single_layer_runs()]
  independent = {"name": "independent single-layer models",
                 "description": f"{layers} one-iteration models, one per "
                                "lambda, same steps each",
                 "results": {key: [r["results"][key][0] for r, _ in points]
                             for key in points[0][0]["results"]}}
  params = {"rnn-layered": layered_params,
            "independent models (all)": sum(p for _, p in points)}
  codecs = study.anchors()
  rows = study.bd_table([layered], [independent, PAPER] + codecs)
  table = overheads(layered, independent)
  print("layers  bpp layered  bpp independent  extra bytes %  dPSNR dB")
  for row in table:
    print(f"{row['layers']:>6} {row['bpp_layered']:12.4f} "
          f"{row['bpp_independent']:16.4f} {row['extra_bytes_percent']:14.1f}"
          f" {row['psnr_difference']:9.2f}")
  study.write("scalable_rnn", len(test_images),
              [layered, independent, PAPER] + codecs, rows, params,
              extra={"layered_overhead": table})


if __name__ == "__main__":
  FLAGS.set_default("lmbdas", ["0.01", "0.02", "0.04", "0.08"])
  FLAGS.set_default("latent_depth", 128)
  FLAGS.set_default("patch_size", 128)
  FLAGS.set_default("batch_size", 4)
  FLAGS.set_default("steps", 2000)
  FLAGS.set_default("lr", 5e-4)
  app.run(main)
