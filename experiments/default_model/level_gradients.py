"""How much each level of a gained model steers its shared weights.

  python experiments/default_model/level_gradients.py

A gained model's training step draws one level per crop and averages the
levels' RD losses, bpp + lambda * MSE, which grow with lambda: the shared
transforms and hyperprior then follow mostly the high levels. For the same
--batches batches of training crops, coded at each level in turn as the
trainer codes them (noisy latent for the rate, `--quantization`'s input to
the synthesis), this prints per level its loss, bpp and PSNR, the norm of its
gradient on the shared weights (every trainable weight but the gains), that
norm (weighted) over the norm of the levels' weighted mean (what a step
follows on average), and the cosine between the two, for each of the
trainer's --lmbda_power values asked for (`Model.loss_weights`; 0: the plain
mean). Writes JSON.
"""

import json
import os
import platform
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
# pylint: disable=wrong-import-position
from tfvrc import data
from tfvrc import zoo
from tfvrc.models import base

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "gained-mse", "Zoo name or weights file of a "
                    "gained model.")
flags.DEFINE_string("data", "../shared/data/train", "Training images.")
flags.DEFINE_integer("patch_size", 256, "Crop size.")
flags.DEFINE_integer("batch_size", 8, "Crops per batch.")
flags.DEFINE_integer("batches", 4, "Batches, the same for every level.",
                     lower_bound=1)
flags.DEFINE_enum("quantization", "mixed", ["noise", "mixed"], "The "
                  "synthesis' input, as the trainer's flag.")
flags.DEFINE_list("lmbda_powers", ["0", "0.5", "0.75"], "Values of the "
                  "trainer's --lmbda_power: the levels' weights in the mean.")
flags.DEFINE_integer("seed", 1, "Seed of the crops and the noise.")
flags.DEFINE_string("json", "experiments/default_model/results/"
                    "level_gradients.json", "JSON output, from the repo root.")


def level_gradients(model, batches, level):
  """(mean loss, bpp, MSE, flat shared-weight gradient) of one level."""
  shared = [v for v in model.trainable_variables if "gains" not in v.name]
  losses, bpps, mses, total = [], [], [], None
  for x in batches:
    rate = tf.fill([x.shape[0]], float(level))
    with tf.GradientTape() as tape:
      bpp, mse, loss = model.rd_terms(x, rate, training=True)
      mean_loss = tf.reduce_mean(loss)
    grads = tape.gradient(mean_loss, shared)
    flat = tf.concat([tf.reshape(g, [-1]) for g in grads], 0).numpy()
    total = flat if total is None else total + flat
    losses.append(mean_loss.numpy())
    bpps.append(tf.reduce_mean(bpp).numpy())
    mses.append(tf.reduce_mean(mse).numpy())
  return (float(np.mean(losses)), float(np.mean(bpps)), float(np.mean(mses)),
          total / len(batches))


def weigh(model, power, rows, grads):
  """Prints and returns each level's weight, share and cosine to the mean
  under --lmbda_power=`power`."""
  model.lmbda_power = power
  weights = model.loss_weights(
      tf.range(len(model.lmbdas), dtype=tf.float32)).numpy()
  mean = np.mean([w * g for w, g in zip(weights, grads)], axis=0)
  mean_norm = np.linalg.norm(mean)
  print(f"\n--lmbda_power={power:g}\n{'level':>5} {'lambda':>8} {'loss':>7} "
        f"{'bpp':>6} {'PSNR':>6} {'|g|':>9} {'weight':>7} "
        f"{'|wg|/|mean|':>11} {'cos':>6}")
  out = []
  for row, weight, grad in zip(rows, weights, grads):
    out.append(dict(weight=float(weight),
                    norm_ratio=float(weight * row["grad_norm"] / mean_norm),
                    cosine=float(grad @ mean / (row["grad_norm"] * mean_norm))))
    print(f"{row['level']:>5} {row['lmbda']:>8g} {row['loss']:>7.3f} "
          f"{row['bpp']:>6.3f} {row['psnr']:>6.2f} {row['grad_norm']:>9.3g} "
          f"{weight:>7.3g} {out[-1]['norm_ratio']:>11.3f} "
          f"{out[-1]['cosine']:>6.3f}")
  return out


def main(argv):
  del argv
  tf.random.set_seed(FLAGS.seed)
  codec = zoo.load(FLAGS.model)
  model = codec.model
  if not hasattr(model, "lmbdas"):
    raise app.UsageError(f"{FLAGS.model} is not a gained model")
  model.hyperprior_codec.rounded_synthesis_input = (
      FLAGS.quantization == "mixed")
  dataset = data.training_dataset(FLAGS.data, FLAGS.patch_size,
                                  FLAGS.batch_size, seed=FLAGS.seed)
  batches = list(dataset.take(FLAGS.batches))
  rows, grads = [], []
  for level, lmbda in enumerate(model.lmbdas):
    loss, bpp, mse, grad = level_gradients(model, batches, level)
    grads.append(grad)
    rows.append(dict(level=level, lmbda=lmbda, loss=loss, bpp=bpp,
                     psnr=float(base.psnr_from_mse(mse)),
                     grad_norm=float(np.linalg.norm(grad))))
  weighted = {power: weigh(model, float(power), rows, grads)
              for power in FLAGS.lmbda_powers}
  result = dict(model=FLAGS.model, digest=codec.digest.hex(),
                patch_size=FLAGS.patch_size, batch_size=FLAGS.batch_size,
                batches=FLAGS.batches, quantization=FLAGS.quantization,
                seed=FLAGS.seed, machine=platform.processor() or
                platform.machine(), levels=rows, lmbda_powers=weighted)
  with open(FLAGS.json, "w") as f:
    json.dump(result, f, indent=2)
  print(f"wrote {FLAGS.json}")


if __name__ == "__main__":
  app.run(main)
