"""A checkerboard-context model with its context switched off: the ablation.

  python experiments/default_model/without_context.py WEIGHTS OUT

Writes OUT, the weights file WEIGHTS with the last layer of its checkerboard
correction zeroed: every position then takes the hyper-synthesis's
parameters, so it codes as the same transforms and hyperprior without the
context (still in three strings, a few bytes more than two). `tfvrc eval`
of both and `tfvrc bdrate` give what the context itself is worth.
"""

import os
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
# pylint: disable=wrong-import-position
from tfvrc import latent_codecs
from tfvrc import zoo


def main(argv):
  if len(argv) != 3:
    raise app.UsageError("usage: without_context.py WEIGHTS OUT")
  weights, out = argv[1:]
  codec = zoo.load_file(weights)
  model = codec.model
  if getattr(model, "context", "none") != "checkerboard":
    raise app.UsageError(f"{weights} has no checkerboard context")
  checkerboard = latent_codecs.unwrapped(model.latent_codec,
                                         latent_codecs.CheckerboardCodec)
  for weight in checkerboard.refine.layers[-1].trainable_weights:
    weight.assign(weight * 0.)
  zoo.save(model, out, codec.meta["steps"],
           codec.meta["notes"] + " The checkerboard correction zeroed "
           "(experiments/default_model/without_context.py).")
  print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
