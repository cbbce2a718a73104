"""A checkerboard-context model without its context: the ablation.

  python experiments/default_model/without_context.py WEIGHTS OUT

Writes OUT, a weights file of the same family and config with
`context="none"`, holding every weight of WEIGHTS except the context's and
its correction's: the same transforms and hyperprior, coded in two strings
without the context. `tfvrc eval` of both and `tfvrc bdrate` give what the
context itself is worth to the model.
"""

import os
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
# pylint: disable=wrong-import-position
from tfvrc import models
from tfvrc import zoo


def main(argv):
  if len(argv) != 3:
    raise app.UsageError("usage: without_context.py WEIGHTS OUT")
  weights, out = argv[1:]
  codec = zoo.load_file(weights)
  model = codec.model
  if model.get_config().get("context") != "checkerboard":
    raise app.UsageError(f"{weights} has no checkerboard context")
  codec_with_context = model.hyperprior_codec
  context = {w.ref() for w in codec_with_context.context.trainable_weights
             + codec_with_context.refine.trainable_weights}
  source = [w for w in model.trainable_weights if w.ref() not in context]
  plain = models.create(model.family,
                        **dict(model.get_config(), context="none"))
  for s, t in zip(source, plain.trainable_weights, strict=True):
    if (zoo.layer_relative_name(s) != zoo.layer_relative_name(t)
        or s.shape != t.shape):
      raise ValueError(f"{s.name} {s.shape} does not match {t.name} "
                       f"{t.shape}")
    t.assign(s)
  zoo.save(plain, out, codec.meta["steps"],
           codec.meta["notes"] + " Without its checkerboard context "
           "(experiments/default_model/without_context.py).")
  print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
