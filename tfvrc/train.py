"""Trains any tfvrc model family: `python -m tfvrc.train --flagfile=...`.

Keras `fit` under a `tf.distribute` strategy, resumable (BackupAndRestore keeps
the step count across a kill), with TensorBoard logs. Range-coding tables are
built after training, outside the strategy scope, and the weights are written
in the zoo format (plus a SavedModel with `--export`).
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from tfvrc import data
from tfvrc import models
from tfvrc import zoo

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "hyperprior", "Model family.")
flags.DEFINE_float("lmbda", 0.0067, "Lambda of a fixed-rate model "
                   "(loss = bpp + lambda * MSE on 0..255).")
flags.DEFINE_integer("num_filters", 128, "Channels of the transforms (N).")
flags.DEFINE_integer("latent_depth", 192, "Channels of the latent (M).")
flags.DEFINE_string("data", "../shared/data/train",
                    "Folder or glob of training images.")
flags.DEFINE_bool("downsample", False, "Downsample images 2x before cropping.")
flags.DEFINE_string("val_data", None, "Folder of validation images (centre "
                    "crops); none by default.")
flags.DEFINE_integer("val_images", 16, "Validation images used.")
flags.DEFINE_integer("patch_size", 256, "Training crop size.")
flags.DEFINE_integer("batch_size", 8, "Global batch size.")
flags.DEFINE_integer("steps", 100000, "Total training steps.")
flags.DEFINE_integer("steps_per_epoch", 500, "Steps between metric logs.")
flags.DEFINE_float("lr", 1e-4, "Initial learning rate (Adam).")
flags.DEFINE_list("lr_decay_steps", [], "Steps at which the learning rate is "
                  "multiplied by --lr_decay_factor.")
flags.DEFINE_float("lr_decay_factor", 0.5, "Learning-rate decay factor.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored",
                                          "multi_worker"],
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_string("out", "/tmp/tfvrc_train", "Output directory.")
flags.DEFINE_integer("checkpoint_every", 500, "Steps between checkpoints.")
flags.DEFINE_bool("export", False, "Write a SavedModel to OUT/saved_model.")
flags.DEFINE_bool("mixed_precision", False, "bfloat16 compute (CPU) / "
                  "float16 (GPU) for the transforms.")
flags.DEFINE_bool("jit", False, "XLA-compile the training step.")
flags.DEFINE_integer("seed", None, "Seed for weights, data order and crops.")
flags.DEFINE_integer("verbose", 2, "Keras verbosity: 1 progress bar, "
                     "2 one line per epoch.")


def make_strategy(name):
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def learning_rate():
  boundaries = [int(s) for s in FLAGS.lr_decay_steps]
  if not boundaries:
    return FLAGS.lr
  values = [FLAGS.lr * FLAGS.lr_decay_factor ** i
            for i in range(len(boundaries) + 1)]
  return tf.keras.optimizers.schedules.PiecewiseConstantDecay(
      boundaries, values)


def is_chief(strategy):
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return resolver.task_type == "chief" or (
      resolver.task_type == "worker" and resolver.task_id == 0)


class WeightsSnapshot(tf.keras.callbacks.Callback):
  """Writes the zoo weights file after every epoch, so a run can be used early."""

  def __init__(self, path):
    super().__init__()
    self.path = path

  def on_epoch_end(self, epoch, logs=None):
    zoo.save(self.model, self.path,
             steps=int(self.model.optimizer.iterations.numpy()),
             notes=" ".join(sys.argv[1:]))


def model_config():
  return dict(lmbda=FLAGS.lmbda, num_filters=FLAGS.num_filters,
              latent_depth=FLAGS.latent_depth)


def train():
  """Runs the whole job; returns the trained model (coders built)."""
  if FLAGS.steps % FLAGS.steps_per_epoch:
    raise app.UsageError("--steps must be a multiple of --steps_per_epoch")
  if FLAGS.seed is not None:
    tf.keras.utils.set_random_seed(FLAGS.seed)
  if FLAGS.mixed_precision:
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
  strategy = make_strategy(FLAGS.strategy)
  per_replica = FLAGS.batch_size // strategy.num_replicas_in_sync
  if per_replica * strategy.num_replicas_in_sync != FLAGS.batch_size:
    raise app.UsageError("--batch_size must divide among the "
                         f"{strategy.num_replicas_in_sync} replicas")
  train_data = strategy.distribute_datasets_from_function(
      lambda ctx: data.training_dataset(
          FLAGS.data, FLAGS.patch_size, per_replica,
          downsample=FLAGS.downsample, seed=FLAGS.seed, input_context=ctx))
  val_data = None
  if FLAGS.val_data:
    val_data = data.validation_dataset(FLAGS.val_data, FLAGS.patch_size,
                                       FLAGS.batch_size, FLAGS.val_images)

  with strategy.scope():
    model = models.create(FLAGS.model, **model_config())
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate()),
                  jit_compile=FLAGS.jit)

  os.makedirs(FLAGS.out, exist_ok=True)
  weights_path = os.path.join(FLAGS.out, "weights")
  snapshots = [WeightsSnapshot(weights_path)] if is_chief(strategy) else []
  model.fit(
      train_data,
      epochs=FLAGS.steps // FLAGS.steps_per_epoch,
      steps_per_epoch=FLAGS.steps_per_epoch,
      validation_data=val_data,
      verbose=FLAGS.verbose,
      callbacks=[
          tf.keras.callbacks.TerminateOnNaN(),
          tf.keras.callbacks.BackupAndRestore(
              os.path.join(FLAGS.out, "backup"),
              save_freq=FLAGS.checkpoint_every, delete_checkpoint=False),
          tf.keras.callbacks.TensorBoard(os.path.join(FLAGS.out, "logs"),
                                         update_freq="epoch"),
      ] + snapshots)
  model.build_coders()
  steps = int(model.optimizer.iterations.numpy())
  if is_chief(strategy):
    zoo.save(model, weights_path, steps=steps, notes=" ".join(sys.argv[1:]))
    logging.info("trained %d steps; weights in %s.npz", steps, weights_path)
  return model


def main(argv):
  del argv
  train()


if __name__ == "__main__":
  app.run(main)
