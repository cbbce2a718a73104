"""The two steps tfvrc's SignalConv2D computes faster than tfc's, timed apart.

For a model (default: the default model) and one image, as `tf.function`s
(median of --runs after a warm-up), beside the model's whole compress and
decompress of the image:

* kernel rebuilding: per transform, all its RDFT-parameterized kernels, with
  `tfc.RDFTParameter` (copies of the same variables) and with the model's own
  `MatrixRDFTParameter`;
* upsampling convolutions: per upsampling layer of the synthesis and hyper
  synthesis, on the input it sees when decoding the image, tfc's
  `conv2d_transpose` path and tfvrc's sub-pixel path, with the same kernel.

Prints both tables and writes JSON.

  python experiments/speed/conv_ops.py
"""

import json
import os
import platform
import sys

from absl import app
from absl import flags
import tensorflow as tf
import tensorflow_compression as tfc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import cli, io, zoo
from tfvrc.layers import signal_conv
import timing

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Zoo name or weights file (default: the "
                    "default model).")
flags.DEFINE_string("image", cli.SAMPLE_IMAGE, "Image for compress and "
                    "decompress.")
flags.DEFINE_integer("runs", 20, "Timed runs of each function.",
                     lower_bound=1)
flags.DEFINE_string("out", "experiments/speed/results/conv_ops.json",
                    "JSON output; a relative path is taken from the repo root.")


def tfc_copy(parameter):
  """A `tfc.RDFTParameter` holding the same values as `parameter`."""
  copy = tfc.RDFTParameter(None, shape=parameter.shape, dtype=tf.float32)
  copy.real.assign(parameter.real)
  copy.imag.assign(parameter.imag)
  return copy


def kernel_rows(model):
  """Kernel rebuild times of each transform, tfc's and ours."""
  rows = []
  hyper = model.hyperprior_codec
  for transform in (model.analysis_transform, hyper.hyper_analysis,
                    hyper.hyper_synthesis, model.synthesis_transform):
    ours = [layer.kernel_parameter for layer in transform.layers
            if isinstance(getattr(layer, "kernel_parameter", None),
                          signal_conv.MatrixRDFTParameter)]
    if not ours:
      continue
    theirs = [tfc_copy(p) for p in ours]
    rows.append({
        "transform": transform.name, "kernels": len(ours),
        "tfc_s": timing.median_time(tf.function(
            lambda t=theirs: [p() for p in t]), FLAGS.runs),
        "tfvrc_s": timing.median_time(tf.function(
            lambda o=ours: [p() for p in o]), FLAGS.runs),
    })
  return rows


def upsampling_rows(model, image, rate):
  """Times of each upsampling convolution on its decoding input, tfc's
  transposed convolution and our sub-pixel one (same kernel)."""
  y = model.analysis(tf.cast(image, tf.float32)[None], rate)
  z = tf.round(model.hyperprior_codec.hyper_analysis(y))
  rows = []
  for transform, x in ((model.hyperprior_codec.hyper_synthesis, z),
                       (model.synthesis_transform, tf.round(y))):
    for layer in transform.layers:
      if getattr(layer, "strides_up", (1, 1)) != (1, 1):
        kernel = tf.constant(layer.kernel)
        prepadding = ((0, 0), (0, 0))
        # pylint: disable=protected-access
        functions = {
            "tfc": tfc.SignalConv2D._up_convolve_transpose_explicit,
            "tfvrc": type(layer)._up_convolve_transpose_explicit}
        row = {"layer": f"{transform.name}/{layer.name}",
               "input": list(x.shape[1:])}
        for name, up in functions.items():
          row[f"{name}_s"] = timing.median_time(tf.function(
              lambda u=up, l=layer, v=x: u(l, v, kernel, prepadding)),
                                                FLAGS.runs)
        rows.append(row)
      x = layer(x)
  return rows


def print_table(rows, key, extra):
  print(f"{key:<26} {extra:>14} {'tfc (ms)':>9} {'tfvrc (ms)':>10} "
        f"{'tfvrc/tfc':>9}")
  for row in rows:
    print(f"{row[key]:<26} {str(row[extra]):>14} {1e3 * row['tfc_s']:>9.2f} "
          f"{1e3 * row['tfvrc_s']:>10.2f} "
          f"{row['tfvrc_s'] / row['tfc_s']:>9.3f}")
  print(f"{'all':<26} {'':>14} {1e3 * sum(r['tfc_s'] for r in rows):>9.2f} "
        f"{1e3 * sum(r['tfvrc_s'] for r in rows):>10.2f}\n")


def main(argv):
  del argv
  load_average = os.getloadavg()
  codec = zoo.load(FLAGS.model)
  model = codec.model
  image = tf.constant(io.read_image(FLAGS.image))
  rate = tf.constant(model.default_rate, tf.float32)
  kernels = kernel_rows(model)
  upsampling = upsampling_rows(model, image, tf.reshape(rate, [1]))
  strings = model.compress(image, rate)
  coding = {
      "compress_s": timing.median_time(
          lambda: model.compress(image, rate), FLAGS.runs),
      "decompress_s": timing.median_time(
          lambda: model.decompress(tf.shape(image)[:2], rate, *strings),
          FLAGS.runs),
  }
  print_table(kernels, "transform", "kernels")
  print_table(upsampling, "layer", "input")
  print(f"the model's compress {1e3 * coding['compress_s']:.1f} ms, "
        f"decompress {1e3 * coding['decompress_s']:.1f} ms "
        f"({image.shape[1]}x{image.shape[0]})")
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w", encoding="utf-8") as f:
    json.dump({"model": codec.codec_name, "image": os.path.basename(
        FLAGS.image), "machine": platform.machine(), "cpus": os.cpu_count(),
               "load_average_at_start": load_average, "runs": FLAGS.runs,
               "kernels": kernels, "upsampling": upsampling, **coding}, f,
              indent=2)
  print(f"Wrote {out}")


if __name__ == "__main__":
  app.run(main)
