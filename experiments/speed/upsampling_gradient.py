"""The upsampling convolutions' gradient, three ways, and the step it is in.

tfvrc runs an upsampling convolution as sub-pixel phases (one correlation
with s*s sub-kernels, `signal_conv.subpixel_phases`). Its gradient can be
taken through that correlation ("through phases", what autodiff gives and the
library did until 2026-12-07) or computed as `conv2d_transpose`'s, a strided
correlation and its filter gradient ("transposed", `subpixel_up_convolve`,
the library's now); tfc's own path runs `conv2d_transpose` both ways. For each
upsampling layer of the default model's synthesis and hyper synthesis at
--patch_size crops, batch --batch_size, in each of --dtypes: the median time
of a traced forward + backward (kernel and input gradients), each way. Then
the whole trainer step of the default model (gained, N=128, M=192, mixed
quantization) in each of --dtypes with the gradient through phases and
transposed, interleaved (--step_runs each), and their ratio. Prints both tables and writes JSON.

  python experiments/speed/upsampling_gradient.py --out experiments/speed/results/upsampling_gradient_avx2.json
"""

import os
import statistics
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import cpu
from tfvrc import models
from tfvrc.layers import signal_conv
import timing

FLAGS = flags.FLAGS
flags.DEFINE_list("dtypes", ["float32", "bfloat16"], "Compute types.")
flags.DEFINE_integer("patch_size", 128, "Crop size (the default model's "
                     "stages 1-9 trained at 128, stage 10 at 256).")
flags.DEFINE_integer("batch_size", 8, "Crops per step.")
flags.DEFINE_integer("runs", 10, "Timed runs per way and layer.",
                     lower_bound=1)
flags.DEFINE_integer("step_runs", 12, "Timed trainer steps per way.",
                     lower_bound=0)
flags.DEFINE_string("out", "experiments/speed/results/upsampling_gradient.json",
                    "JSON output; a relative path is taken from the repo root.")

# (transform, input channels, output channels, kernel, stride, input size as
# a fraction of the crop) of the default model.
LAYERS = (("synthesis", 192, 128, 5, 2, 16), ("synthesis", 128, 128, 5, 2, 8),
          ("synthesis", 128, 128, 5, 2, 4), ("synthesis", 128, 3, 5, 2, 2),
          ("hyper_synthesis", 128, 192, 5, 2, 64),
          ("hyper_synthesis", 192, 288, 5, 2, 32),
          ("hyper_synthesis", 288, 384, 3, 1, 16))


def tfc_transpose(x, kernel, stride):
  """tfc's "same_zeros" upsampling path (`conv2d_transpose`)."""
  layer = tfc.SignalConv2D(kernel.shape[-1], kernel.shape[:2], corr=False,
                           strides_up=stride, padding="same_zeros")
  return layer._up_convolve_transpose_explicit(  # pylint: disable=protected-access
      x, kernel, ((0, 0), (0, 0)))


WAYS = (("through_phases", signal_conv.subpixel_phases),
        ("transposed", signal_conv.subpixel_up_convolve),
        ("tfc_conv2d_transpose", tfc_transpose))


def measure_layer(dtype, transform, channels_in, channels_out, support, stride,
                  fraction):
  rng = np.random.default_rng(0)
  size = max(1, FLAGS.patch_size // fraction)
  x = tf.constant(rng.normal(size=(FLAGS.batch_size, size, size,
                                   channels_in)), dtype)
  kernel = tf.constant(rng.normal(0, .05, (support, support, channels_in,
                                           channels_out)), dtype)
  row = dict(dtype=dtype, transform=transform,
             channels=[channels_in, channels_out], kernel=support,
             stride=stride, size=size)
  for name, up_convolve in WAYS:
    row[name + "_s"] = timing.gradient_time(
        lambda f=up_convolve: f(x, kernel, stride), [x, kernel], FLAGS.runs)
  row["speedup"] = row["through_phases_s"] / row["transposed_s"]
  return row


def trainer_steps(dtype):
  """The default model's train step under `dtype`'s policy with each
  gradient of the sub-pixel path (swapped in before tracing), timed
  interleaved."""
  rng = np.random.default_rng(0)
  x = tf.constant(rng.uniform(0, 255, (FLAGS.batch_size, FLAGS.patch_size,
                                       FLAGS.patch_size, 3)), tf.float32)
  tf.keras.mixed_precision.set_global_policy(
      "mixed_bfloat16" if dtype == "bfloat16" else "float32")
  library = signal_conv.subpixel_up_convolve
  steps = {}
  try:
    for name, up_convolve in WAYS[:2]:
      signal_conv.subpixel_up_convolve = up_convolve
      tf.keras.utils.set_random_seed(1)
      model = models.create("gained", num_filters=128, latent_depth=192)
      model.hyperprior_codec.rounded_synthesis_input = True
      model.compile(optimizer=tf.keras.optimizers.Adam(1e-4))
      steps[name] = tf.function(model.train_step)
      # Traced here, with this way swapped in; the optimizer makes its
      # slots at the first step, so the second is the first ordinary one.
      for _ in range(2):
        steps[name](x)
  finally:
    signal_conv.subpixel_up_convolve = library
    tf.keras.mixed_precision.set_global_policy("float32")
  times = {name: [] for name in steps}
  for _ in range(FLAGS.step_runs):
    for name, step in steps.items():
      start = time.perf_counter()
      step(x)["loss"].numpy()
      times[name].append(time.perf_counter() - start)
  medians = {name: statistics.median(t) for name, t in times.items()}
  return dict(dtype=dtype, medians_s=medians,
              speedup=medians["through_phases"] / medians["transposed"])


def main(argv):
  del argv
  load_average = os.getloadavg()
  warning = cpu.bfloat16_warning()
  if "bfloat16" in FLAGS.dtypes and warning:
    print(f"warning: {warning}")
  rows = [measure_layer(dtype, *layer)
          for dtype in FLAGS.dtypes for layer in LAYERS]
  print(f"{'dtype':<9} {'layer':<16} {'channels':>8} {'input':>6} "
        f"{'phases ms':>10} {'transposed ms':>14} {'tfc ms':>7} "
        f"{'speed-up':>9}")
  for r in rows:
    print(f"{r['dtype']:<9} {r['transform']:<16} "
          f"{'%d>%d' % tuple(r['channels']):>8} {r['size']:>6} "
          f"{1e3 * r['through_phases_s']:>10.1f} "
          f"{1e3 * r['transposed_s']:>14.1f} "
          f"{1e3 * r['tfc_conv2d_transpose_s']:>7.1f} {r['speedup']:>9.2f}")
  steps = [trainer_steps(dtype) for dtype in FLAGS.dtypes
           if FLAGS.step_runs]
  for step in steps:
    print(f"trainer step, {step['dtype']}, {FLAGS.patch_size}^2 x "
          f"{FLAGS.batch_size}: through phases "
          f"{step['medians_s']['through_phases']:.3f} s, transposed "
          f"{step['medians_s']['transposed']:.3f} s, speed-up "
          f"{step['speedup']:.2f}")
  timing.write_results(os.path.join(REPO, FLAGS.out), load_average,
                       patch_size=FLAGS.patch_size,
                       batch_size=FLAGS.batch_size, runs=FLAGS.runs,
                       layers=rows, trainer_steps=steps)


if __name__ == "__main__":
  app.run(main)
