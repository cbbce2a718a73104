"""Modulated autoencoder against a scaled bottleneck and independent models
(Yang et al. 2020).

  nice -n 5 python experiments/modulated/run.py [--steps 1500] [--runs DIR]

At the scale of `experiments/study.py` (N=32, M=48, 64x64 crops, batch 8,
the same steps per run), with the lambdas of experiments/gained (its
independent models are shared: whichever study runs first trains them):
- the hyperprior MAE, trained jointly (each batch at every lambda, the
  losses summed), with our lambda initialisation of its modulation and, as
  "modulated-glorot", with the original's;
- the scaled bottleneck: the independent model of the largest lambda, frozen,
  with per-lambda channel scales learned for the same steps, started at
  sqrt(lambda / lambda_top) and, as "scaled-bottleneck-ones", at one;
- the L independent fixed-rate hyperpriors.
Kodak through real files: the MAE and the scaled bottleneck at --rate_steps
lambdas, log-spaced over the trained range, plus the trained ones; BD-rates
against the independent models and WebP / HEVC-intra; parameter counts.
Writes experiments/modulated/results/{modulated.json, rd.png, rd-msssim.png}.
"""

import os
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import study  # pylint: disable=wrong-import-position

import numpy as np  # pylint: disable=wrong-import-position,wrong-import-order

FLAGS = study.FLAGS


def runs(lmbdas, top):
  """Run name -> its model flags and start (None: --init_from's, if any).
  The scaled bottlenecks start from the top independent model whatever
  --init_from is: they learn only scales on its frozen transforms."""
  mae = ["--model=modulated", f"--lmbdas={lmbdas}"]
  scaled = ["--model=scaled-bottleneck", f"--lmbdas={lmbdas}"]
  frozen = f"{top}/weights.npz"
  return {"modulated": (mae, None),
          "modulated-glorot": (mae + ["--modulation_init=glorot"], None),
          "scaled-bottleneck": (scaled, frozen),
          "scaled-bottleneck-ones": (scaled + ["--gain_init=ones"], frozen)}


def main(argv):
  del argv
  lmbdas = study.lmbdas()
  study.train_independent()
  top = study.run_dir(f"hyperprior-{max(lmbdas):g}")
  names = runs(",".join(FLAGS.lmbdas), top)
  for name, (model_flags, start) in names.items():
    study.train(name, *model_flags, init_from=start)

  test_images = study.images()
  rates = list(np.geomspace(min(lmbdas), max(lmbdas), FLAGS.rate_steps))
  independent, curves, params = study.evaluate_runs(
      list(names), test_images, rates + lmbdas)
  codecs = study.anchors()
  # The papers' initialisations barely vary the rate at these steps (see
  # the bpp spans), so only the paper's own comparison is added: the MAE
  # against the scaled bottleneck.
  by_name = {curve["name"]: curve for curve in curves}
  rows = (study.bd_table(curves, [independent] + codecs)
          + study.bd_table([by_name["modulated"]],
                           [by_name["scaled-bottleneck"]]))
  study.write("modulated", len(test_images),
              curves + [independent] + codecs, rows, params)


if __name__ == "__main__":
  app.run(main)
