"""A training step's stride-2 correlations, two ways, forward + backward.

The analysis transform's 5x5 stride-2 correlations ("same_zeros" padding:
`tf.pad`, then a "VALID" correlation with stride 2: the path of
`tfvrc.layers.signal_conv`, called here) against the same correlation as
space-to-depth by 2 and a 3x3 stride-1 correlation with 4x the input
channels (its kernel holds the 5x5 taps by input phase, 36 taps for 25):
the mirror of the synthesis's sub-pixel upsampling, a candidate where
oneDNN's strided data gradient is slow; and the library's correlation with
its data gradient computed as the adjoint upsampling convolution in sub-pixel
phases (`signal_conv.subpixel_phases`), the other candidate for that. For
each layer shape of the default model's analysis at --patch_size crops, batch
--batch_size, in each of --dtypes: the median time of a traced step computing
the kernel's gradient (and the input's, except for the image), each way,
the speed-ups over the library's, the largest output difference of
space-to-depth and the largest gradient difference of the sub-pixel data
gradient (relative to the largest gradient). Prints a table and writes JSON.

  python experiments/speed/strided_conv.py --out experiments/speed/results/strided_conv_avx2.json
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import cpu
from tfvrc.layers import signal_conv
import timing

FLAGS = flags.FLAGS
flags.DEFINE_list("dtypes", ["float32", "bfloat16"], "Compute types.")
flags.DEFINE_integer("patch_size", 256, "Crop size of the first layer.")
flags.DEFINE_integer("batch_size", 8, "Crops per step.")
flags.DEFINE_integer("runs", 10, "Timed steps per way.", lower_bound=1)
flags.DEFINE_string("out", "experiments/speed/results/strided_conv.json",
                    "JSON output; a relative path is taken from the repo root.")

# (input channels, output channels, input size as a fraction of the crop).
LAYERS = ((3, 128, 1), (128, 128, 2), (128, 128, 4), (128, 192, 8))
# Tap of the 5x5 kernel (0..4; 5: none) at space-to-depth offset e and
# phase r: input sample 2p + d, d = 2e + r, is tap d + 2.
TAPS = np.array([[2 * e + r + 2 for r in (0, 1)] for e in (-1, 0, 1)])
TAPS[TAPS > 4] = 5


def strided(x, kernel):
  """The library's own path: `signal_conv.SignalConv2D`'s "same_zeros"
  stride-2 correlation (2 samples of zeros each side for 5 taps)."""
  layer = signal_conv.SignalConv2D(kernel.shape[-1], (5, 5), corr=True,
                                   strides_down=2, padding="same_zeros")
  return layer._correlate_down_explicit(  # pylint: disable=protected-access
      x, kernel, ((2, 2), (2, 2)))


def space_to_depth(x, kernel):
  channels_in, channels_out = kernel.shape[2:]
  flat = tf.concat([tf.reshape(kernel, [25, channels_in, channels_out]),
                    tf.zeros([1, channels_in, channels_out], kernel.dtype)], 0)
  rows, cols = TAPS[:, None, :, None], TAPS[None, :, None, :]
  index = np.where((rows < 5) & (cols < 5), rows * 5 + cols, 25)
  sub = tf.reshape(tf.gather(flat, index), [3, 3, 4 * channels_in,
                                            channels_out])
  return tf.nn.conv2d(tf.pad(tf.nn.space_to_depth(x, 2),
                             [(0, 0), (1, 1), (1, 1), (0, 0)]), sub, 1,
                      "VALID")


def subpixel_gradient(x, kernel):
  """`strided`, its data gradient computed as the adjoint upsampling
  convolution (in/out-swapped kernel) in sub-pixel phases, cropped to x."""

  @tf.custom_gradient
  def correlate(x, kernel):
    def gradient(d_outputs):
      swapped = tf.transpose(kernel, [0, 1, 3, 2])
      d_x = signal_conv.subpixel_phases(d_outputs, swapped, 2)
      d_kernel = tf.compat.v1.nn.conv2d_backprop_filter(
          tf.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)]), tf.shape(kernel),
          d_outputs, [1, 2, 2, 1], "VALID")
      return d_x[:, :x.shape[1], :x.shape[2]], d_kernel
    return strided(x, kernel), gradient

  return correlate(x, kernel)


def step_time(correlate, x, kernel):
  """Median time of forward + backward; the image (3 channels) needs no
  gradient, as in training."""
  sources = [kernel] if x.shape[-1] == 3 else [kernel, x]
  return timing.gradient_time(lambda: correlate(x, kernel), sources,
                              FLAGS.runs)


def measure(dtype, channels_in, channels_out, size):
  rng = np.random.default_rng(0)
  x = tf.constant(rng.uniform(0, 1, (FLAGS.batch_size, size, size,
                                     channels_in)), dtype)
  kernel = tf.constant(rng.normal(0, .05, (5, 5, channels_in, channels_out)),
                       dtype)
  difference = tf.reduce_max(tf.abs(
      tf.cast(strided(x, kernel), tf.float32)
      - tf.cast(space_to_depth(x, kernel), tf.float32)))
  gradients = [timing.squared_gradients(lambda c=c: c(x, kernel), [x, kernel])
               for c in (strided, subpixel_gradient)]
  gradient_difference = max(
      float(tf.reduce_max(tf.abs(tf.cast(a - b, tf.float32)))
            / tf.reduce_max(tf.abs(tf.cast(b, tf.float32))))
      for a, b in zip(gradients[1], gradients[0]))
  times = {name: step_time(f, x, kernel) for name, f in
           (("strided", strided), ("space_to_depth", space_to_depth),
            ("subpixel_gradient", subpixel_gradient))}
  return dict(dtype=dtype, channels=[channels_in, channels_out], size=size,
              strided_s=times["strided"],
              space_to_depth_s=times["space_to_depth"],
              subpixel_gradient_s=times["subpixel_gradient"],
              speedup=times["strided"] / times["space_to_depth"],
              subpixel_gradient_speedup=(times["strided"]
                                         / times["subpixel_gradient"]),
              subpixel_gradient_relative_difference=gradient_difference,
              max_difference=float(difference))


def main(argv):
  del argv
  load_average = os.getloadavg()
  warning = cpu.bfloat16_warning()
  if "bfloat16" in FLAGS.dtypes and warning:
    print(f"warning: {warning}")
  rows = [measure(dtype, channels_in, channels_out,
                  FLAGS.patch_size // fraction)
          for dtype in FLAGS.dtypes
          for channels_in, channels_out, fraction in LAYERS]
  print(f"{'dtype':<9} {'channels':>9} {'input':>6} {'strided ms':>11} "
        f"{'s2d ms':>8} {'speed-up':>9} {'max diff':>9} "
        f"{'sub-pixel dx ms':>16} {'speed-up':>9} {'grad diff':>9}")
  for r in rows:
    print(f"{r['dtype']:<9} {'%d>%d' % tuple(r['channels']):>9} "
          f"{r['size']:>6} {1e3 * r['strided_s']:>11.1f} "
          f"{1e3 * r['space_to_depth_s']:>8.1f} {r['speedup']:>9.2f} "
          f"{r['max_difference']:>9.1e} "
          f"{1e3 * r['subpixel_gradient_s']:>16.1f} "
          f"{r['subpixel_gradient_speedup']:>9.2f} "
          f"{r['subpixel_gradient_relative_difference']:>9.1e}")
  timing.write_results(os.path.join(REPO, FLAGS.out), load_average,
                       batch_size=FLAGS.batch_size, runs=FLAGS.runs, rows=rows)


if __name__ == "__main__":
  app.run(main)
