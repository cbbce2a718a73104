"""One gained model against L independently trained ones (Cui et al. 2021).

  nice -n 5 python experiments/gained/run.py [--steps 1500] [--runs DIR]

Trains, at one small scale (`experiments/study.py`: N=32, M=48, 64x64
crops, batch 8, the same steps per run): L fixed-rate hyperpriors, one per
lambda; a gained model over the same L lambdas with the Gaussian prior; and
the same with the asymmetric Gaussian prior (the entropy-model ablation, at
equal steps). On Kodak it codes the gained models at --rate_steps continuous
rates over [0, L - 1] (its L integer levels among them) and each independent
model at its lambda, all through real files, and reports the BD-rate of each
gained curve against the independent models' curve and against WebP and
HEVC-intra (from experiments/baselines), with the parameter counts.
Writes experiments/gained/results/{gained.json, rd.png, rd-msssim.png}.
"""

import os
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import study  # pylint: disable=wrong-import-position

import numpy as np  # pylint: disable=wrong-import-position,wrong-import-order

FLAGS = study.FLAGS


def main(argv):
  del argv
  lmbdas = ",".join(FLAGS.lmbdas)
  study.train_independent()
  priors = ("gaussian", "asymmetric")
  for prior in priors:
    study.train(f"gained-{prior}", "--model=gained", f"--lmbdas={lmbdas}",
                f"--entropy_model={prior}")

  test_images = study.images()
  levels = len(study.lmbdas())
  rates = list(np.linspace(0, levels - 1, FLAGS.rate_steps))
  independent, curves, params = study.evaluate_runs(
      [f"gained-{prior}" for prior in priors], test_images, rates + list(range(levels)))
  levels_curve = study.subset(curves[0], [float(l) for l in range(levels)],
                              "gained-gaussian (integer levels)")
  codecs = study.anchors()
  rows = (study.bd_table(curves + [levels_curve], [independent] + codecs)
          + study.bd_table([curves[1]], [curves[0]]))
  study.write("gained", len(test_images),
              curves + [levels_curve, independent] + codecs, rows, params)


if __name__ == "__main__":
  app.run(main)
