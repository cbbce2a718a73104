"""Trains any tfvrc model family: `python -m tfvrc.train --flagfile=...`.

Keras `fit` under a `tf.distribute` strategy, resumable mid-epoch
(BackupAndRestore every --checkpoint_every steps keeps the step count across a
kill, and a seeded input continues where it stopped), with TensorBoard logs.
Range-coding tables are built after training, outside the strategy scope, and
the weights are written in the zoo format (plus a SavedModel with `--export`).
Only the chief worker writes files that outlive the run.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from tfvrc import cpu
from tfvrc import data
from tfvrc.entropy import conditionals
from tfvrc import export
from tfvrc import models
from tfvrc import zoo
from tfvrc.entropy import mixture
from tfvrc.models import base
from tfvrc.models import hyperprior
from tfvrc.models import modulated

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "hyperprior", sorted(models.FAMILIES),
                  "Model family.")
flags.DEFINE_float("lmbda", 0.0067, "Lambda of a fixed-rate model "
                   "(loss = bpp + lambda * MSE on 0..255).")
flags.DEFINE_list("lmbdas", None, "Lambdas of a variable-rate family, one per "
                  "rate level (default: the family's own set).")
flags.DEFINE_enum("entropy_model", "gaussian", sorted(conditionals.CONDITIONALS),
                  "Conditional entropy model of the latent.")
flags.DEFINE_enum("context", "none", list(hyperprior.CONTEXTS),
                  "Hyperprior and gained families: the latent's context "
                  "model, none or a checkerboard (He et al. 2021); "
                  "--init_from a model without one starts it at no effect.")
flags.DEFINE_enum("gain_init", "lambda", ["lambda", "ones"], "Gained and "
                  "scaled-bottleneck families: start the latent gains at "
                  "sqrt(lambda_s / lambda_0), or at one as in the paper.")
flags.DEFINE_enum("modulation_init", "lambda", ["lambda", "glorot"],
                  "Modulated families: start the last modulation and the "
                  "first demodulation at sqrt(lambda / lambda_0) and its "
                  "inverse (the others at one), or at Keras' defaults as "
                  "in the original.")
flags.DEFINE_enum("training", "joint", modulated.TRAINING_MODES, "Lambda-driven "
                  "families (modulated*, scaled-bottleneck): code each batch "
                  "at every lambda and sum the losses (the paper's), or draw "
                  "one lambda per image.")
flags.DEFINE_enum("decoder_msrbs", "1", ["1", "3"], "asymmetric_msrb*: MSRB "
                  "stages in the decoder (1: Fu et al.'s asymmetric design, "
                  "3: its symmetric twin).")
flags.DEFINE_bool("importance_map", True, "asymmetric_msrb*: scale the latent "
                  "by the learned importance map.")
flags.DEFINE_bool("pqf", True, "asymmetric_msrb*: post-quantization filter.")
flags.DEFINE_enum("mixture", "gaussian", sorted(mixture.FAMILIES),
                  "asymmetric_msrb*: the latent's mixture likelihood (3 "
                  "Gaussians, or 3 each of Gaussian, Laplace, logistic).")
flags.DEFINE_string("init_from", None, "Weights file (zoo format) to start "
                    "from, e.g. a trained baseline under a gained model; a "
                    "checkpoint in OUT/backup takes precedence.")
flags.DEFINE_integer("num_filters", 128, "Channels of the transforms (N).")
flags.DEFINE_integer("latent_depth", 192, "Channels of the latent (M).")
flags.DEFINE_string("data", "../shared/data/train",
                    "Folder or glob of training images.")
flags.DEFINE_bool("downsample", False, "Downsample images 2x before cropping.")
flags.DEFINE_string("val_data", None, "Folder of validation images (centre "
                    "crops) for a per-epoch validation loss; none by default. "
                    "Its first batch (else the training folder's) is what "
                    "TensorBoard's per-rate points are measured on.")
flags.DEFINE_integer("val_images", 16, "Validation images used.")
flags.DEFINE_integer("patch_size", 256, "Training crop size.")
flags.DEFINE_integer("batch_size", 8, "Global batch size.")
flags.DEFINE_integer("steps", 100000, "Total training steps.")
flags.DEFINE_integer("steps_per_epoch", 500, "Steps per Keras epoch: between "
                     "metric logs, validation and weights snapshots.")
flags.DEFINE_float("lr", 1e-4, "Initial learning rate (Adam).")
flags.DEFINE_list("lr_decay_steps", [], "Steps at which the learning rate is "
                  "multiplied by --lr_decay_factor.")
flags.DEFINE_float("lr_decay_factor", 0.5, "Learning-rate decay factor.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored",
                                          "multi_worker"],
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_integer("cpu_replicas", 1, "Split the CPU into this many "
                     "logical devices, each a replica of --strategy mirrored "
                     "(distributed training without GPUs, e.g. to test it).",
                     lower_bound=1)
flags.DEFINE_string("out", "/tmp/tfvrc_train", "Output directory (on a "
                    "cluster: the same shared folder for every worker).")
flags.DEFINE_integer("checkpoint_every", 500, "Steps between checkpoints.")
flags.DEFINE_bool("export", False, "Write a SavedModel to OUT/saved_model.")
flags.DEFINE_string("name", None, "Model name the SavedModel stores (and "
                    "puts in every file it writes); default: the family.")
flags.DEFINE_integer("rate_points", 3, "Rates, spread over the model's "
                     "rate_range, at which TensorBoard gets bpp, PSNR and a "
                     "reconstruction every epoch (a fixed-rate model has one).",
                     lower_bound=1)
flags.DEFINE_enum("quantization", "noise", ["noise", "mixed"], "What the "
                  "synthesis trains on: y plus uniform noise, or (mixed) y "
                  "rounded as the coder rounds it, with straight-through "
                  "gradients; the rate is the noisy y's either way. Families "
                  "with a hyperprior codec.")
flags.DEFINE_float("lmbda_power", 0., "Variable-rate families: weight each "
                   "crop's loss by (lambda / lambda at the default rate) ** "
                   "-POWER, so that the low rates steer the shared weights "
                   "too; 0: the plain mean.", lower_bound=0.)
flags.DEFINE_bool("mixed_precision", False, "bfloat16 compute (CPU) / "
                  "float16 (GPU) for the transforms.")
flags.DEFINE_bool("jit", False, "XLA-compile the training step.")
flags.DEFINE_integer("seed", None, "Seed for weights, data order and crops.")
flags.DEFINE_integer("verbose", 2, "Keras verbosity: 1 progress bar, "
                     "2 one line per epoch.")
flags.DEFINE_string("dump_weights", None, "Debug: every worker writes each "
                    "local replica's copy of the final weights (float32) to "
                    "this .npz, to check that they agree.")


def make_strategy(name):
  """The strategy; mirrored takes the GPUs, else every logical CPU."""
  if name == "mirrored":
    devices = (tf.config.list_logical_devices("GPU")
               or tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def split_cpu(replicas):
  """Makes `replicas` logical CPUs; must run before TF initialises."""
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)


def learning_rate():
  boundaries = [int(s) for s in FLAGS.lr_decay_steps]
  if not boundaries:
    return FLAGS.lr
  values = [FLAGS.lr * FLAGS.lr_decay_factor ** i
            for i in range(len(boundaries) + 1)]
  return tf.keras.optimizers.schedules.PiecewiseConstantDecay(
      boundaries, values)


def backup_checkpoint(backup_dir):
  """The last BackupAndRestore checkpoint (None without one); Keras keeps
  the one every worker restores from in `chief`."""
  return tf.train.latest_checkpoint(os.path.join(backup_dir, "chief"))


def backed_up_step(backup_dir):
  """Steps done at the last BackupAndRestore checkpoint (0 without one)."""
  path = backup_checkpoint(backup_dir)
  if path is None:
    return 0
  return int(tf.train.load_checkpoint(path).get_tensor(
      "train_counter/.ATTRIBUTES/VARIABLE_VALUE"))


def check_backup_fits(model, backup_dir):
  """Refuses a checkpoint that lacks any of the model's variables (another
  model, other flags, or a tfvrc version whose models were structured
  otherwise), which Keras would restore in part and without an error."""
  path = backup_checkpoint(backup_dir)
  if path is None:
    return
  try:
    tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched()
  except AssertionError as e:
    raise app.UsageError(
        f"the checkpoint in {backup_dir} does not fit this model "
        f"({str(e).splitlines()[0][:200]}); resume it with the flags and tfvrc "
        "version that wrote it, or start from its weights.npz with "
        "--init_from in a new --out") from None


def save_weights(model, path):
  """Writes the zoo file atomically, so a kill never leaves half of one."""
  staging = path + ".partial.npz"
  zoo.save(model, staging, steps=int(model.optimizer.iterations.numpy()),
           notes=" ".join(sys.argv[1:]))
  os.replace(staging, path)


def export_saved_model(weights_path, path, name):
  """Exports the weights file, so the SavedModel has exactly its
  float16-rounded weights and digest."""
  export.export(zoo.load_file(weights_path, name), path, force=True)


def dump_weights(model, strategy, path):
  """Writes every local replica's copy of the weights (`r{replica}_w{i}`)."""
  np.savez(path, **{
      f"r{r}_w{i:03d}": v.numpy()
      for i, w in enumerate(model.trainable_weights)
      for r, v in enumerate(strategy.experimental_local_results(w))})


class Backup(tf.keras.callbacks.BackupAndRestore):
  """BackupAndRestore that keeps the last checkpoint from before a NaN loss
  (TerminateOnNaN, earlier in the list, has stopped training by then)."""

  def on_train_batch_end(self, batch, logs=None):
    if not self.model.stop_training:
      super().on_train_batch_end(batch, logs)


class StartLog(tf.keras.callbacks.Callback):
  """Logs the step training starts from (after BackupAndRestore restored)."""

  def on_train_begin(self, logs=None):
    logging.info("training from step %d to %d",
                 int(self.model.optimizer.iterations.numpy()), FLAGS.steps)


class WeightsSnapshot(tf.keras.callbacks.Callback):
  """Writes the zoo weights file after every epoch, so a run can be used early."""

  def __init__(self, path):
    super().__init__()
    self.path = path

  def on_epoch_end(self, epoch, logs=None):
    if not self.model.stop_training:
      save_weights(self.model, self.path)


class RatePoints(tf.keras.callbacks.Callback):
  """TensorBoard, every epoch: bpp, PSNR and RD loss of fixed images at a few
  rates over the model's `rate_range`, and one reconstruction per rate, so a
  variable-rate model shows each point of its RD curve."""

  def __init__(self, images, log_dir, num_rates):
    super().__init__()
    self.images = images
    self.num_rates = num_rates
    self.writer = tf.summary.create_file_writer(log_dir)

  def on_epoch_end(self, epoch, logs=None):
    lo, hi = self.model.rate_range
    rates = np.unique(np.linspace(lo, hi, self.num_rates, dtype=np.float32))
    with self.writer.as_default(step=self.model.optimizer.iterations.numpy()):
      for rate in rates:
        tag = f"rate_{rate:.4g}"
        batch_rates = tf.fill([tf.shape(self.images)[0]], rate)
        bpp, mse, loss = self.model.rd_terms(self.images, batch_rates,
                                             training=False)
        psnr = base.psnr_from_mse(mse)
        tf.summary.scalar(f"bpp/{tag}", tf.reduce_mean(bpp))
        tf.summary.scalar(f"psnr/{tag}", tf.reduce_mean(psnr))
        tf.summary.scalar(f"loss/{tag}", tf.reduce_mean(loss))
        x_hat, _ = self.model((self.images[:1], batch_rates[:1]),
                              training=False)
        side_by_side = tf.concat(
            [self.images[:1], tf.cast(x_hat, self.images.dtype)], axis=2)
        tf.summary.image(f"original_reconstruction/{tag}",
                         tf.saturate_cast(tf.round(side_by_side), tf.uint8))
    self.writer.flush()


# The flags that configure a model; num_filters always does, and
# latent_depth for the families that have one apart from N.
MODEL_FLAGS = ("lmbda", "lmbdas", "entropy_model", "context", "training",
               "gain_init", "modulation_init", "decoder_msrbs",
               "importance_map", "pqf", "mixture", "latent_depth")


def model_config():
  """Constructor arguments from the flags: N (and M), and each model flag
  given on the command line (a family's own default stands for the others);
  one that does not apply to --model is a usage error naming it."""
  keys = models.config_keys(FLAGS.model)
  config = dict(num_filters=FLAGS.num_filters)
  if "latent_depth" in keys:
    config["latent_depth"] = FLAGS.latent_depth
  config.update({name: FLAGS[name].value for name in MODEL_FLAGS
                 if FLAGS[name].present})
  if "lmbdas" in config:
    config["lmbdas"] = [float(l) for l in config["lmbdas"]]
  if "decoder_msrbs" in config:
    config["decoder_msrbs"] = int(config["decoder_msrbs"])
  unknown = sorted(set(config) - set(keys))
  if unknown:
    raise app.UsageError(
        f"{', '.join('--' + k for k in unknown)} does not apply to --model="
        f"{FLAGS.model}")
  return config


def create_model():
  """The flags' model, compiled with its optimizer (in the current scope),
  its transforms computing in bfloat16 with --mixed_precision."""
  tf.keras.mixed_precision.set_global_policy(
      "mixed_bfloat16" if FLAGS.mixed_precision else "float32")
  model = models.create(FLAGS.model, **model_config())
  if FLAGS.quantization == "mixed":
    if not hasattr(model, "hyperprior_codec"):
      raise app.UsageError(f"--quantization=mixed does not apply to --model="
                           f"{FLAGS.model} (no hyperprior codec)")
    model.hyperprior_codec.rounded_synthesis_input = True
  if FLAGS.lmbda_power:
    low, high = model.rate_range
    if low == high or model.max_layers > 1:
      raise app.UsageError(f"--lmbda_power does not apply to --model="
                           f"{FLAGS.model} (its crops all train at the same "
                           f"lambdas)")
    model.lmbda_power = FLAGS.lmbda_power
  if FLAGS.init_from:
    zoo.init_from(model, FLAGS.init_from)
  model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate()),
                jit_compile=FLAGS.jit)
  return model


def train():
  """Runs the whole job; returns the trained model (coders built)."""
  if FLAGS.mixed_precision and not tf.config.list_physical_devices("GPU"):
    warning = cpu.bfloat16_warning()
    if warning:
      logging.warning("--mixed_precision: %s", warning)
  if FLAGS.steps % FLAGS.steps_per_epoch:
    raise app.UsageError("--steps must be a multiple of --steps_per_epoch")
  if FLAGS.cpu_replicas > 1:
    split_cpu(FLAGS.cpu_replicas)
  strategy = make_strategy(FLAGS.strategy)
  replicas = strategy.num_replicas_in_sync
  chief = strategy.extended.should_checkpoint
  logging.info("%s strategy: %d replicas in sync, %s worker",
               FLAGS.strategy, replicas, "chief" if chief else "non-chief")
  if FLAGS.seed is not None:
    tf.keras.utils.set_random_seed(FLAGS.seed)
  per_replica = FLAGS.batch_size // replicas
  if per_replica * replicas != FLAGS.batch_size:
    raise app.UsageError("--batch_size must divide among the "
                         f"{replicas} replicas")
  backup_dir = os.path.join(FLAGS.out, "backup")
  start = backed_up_step(backup_dir)
  train_data = strategy.distribute_datasets_from_function(
      lambda ctx: data.training_dataset(
          FLAGS.data, FLAGS.patch_size, per_replica,
          downsample=FLAGS.downsample, seed=FLAGS.seed, input_context=ctx,
          skip_batches=start * replicas // ctx.num_input_pipelines))
  val_data = None
  if FLAGS.val_data:
    val_data = data.validation_dataset(FLAGS.val_data, FLAGS.patch_size,
                                       FLAGS.batch_size, FLAGS.val_images)

  with strategy.scope():
    model = create_model()
    check_backup_fits(model, backup_dir)

  os.makedirs(FLAGS.out, exist_ok=True)
  weights_path = os.path.join(FLAGS.out, "weights.npz")
  log_dir = os.path.join(FLAGS.out, "logs")
  chief_only = []
  if chief:
    count = min(FLAGS.batch_size, FLAGS.val_images)
    rate_images = data.validation_dataset(
        FLAGS.val_data or FLAGS.data, FLAGS.patch_size, count,
        count).get_single_element()
    chief_only = [WeightsSnapshot(weights_path),
                  RatePoints(rate_images, os.path.join(log_dir, "rates"),
                             FLAGS.rate_points)]
  model.fit(
      train_data,
      epochs=FLAGS.steps // FLAGS.steps_per_epoch,
      steps_per_epoch=FLAGS.steps_per_epoch,
      validation_data=val_data,
      verbose=FLAGS.verbose,
      callbacks=[
          tf.keras.callbacks.TerminateOnNaN(),
          Backup(backup_dir, save_freq=FLAGS.checkpoint_every,
                 delete_checkpoint=False),
          StartLog(),
          # Non-chief workers log to temporary folders that Keras removes.
          tf.keras.callbacks.TensorBoard(log_dir, update_freq="epoch"),
      ] + chief_only)
  steps = int(model.optimizer.iterations.numpy())
  if steps < FLAGS.steps:
    raise RuntimeError(f"training stopped at step {steps} of {FLAGS.steps} "
                       "(NaN loss or no input); no weights written, the last "
                       f"checkpoint in {backup_dir} is from before")
  # The codec (coding tables, export) computes in float32.
  tf.keras.mixed_precision.set_global_policy("float32")
  model.build_coders()
  if FLAGS.dump_weights:
    dump_weights(model, strategy, FLAGS.dump_weights)
  if chief:
    save_weights(model, weights_path)
    logging.info("trained %d steps; weights in %s", steps, weights_path)
    if FLAGS.export:
      export_saved_model(weights_path, os.path.join(FLAGS.out, "saved_model"),
                         FLAGS.name or model.family)
  return model


def main(argv):
  del argv
  train()


if __name__ == "__main__":
  app.run(main)
