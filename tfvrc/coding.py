"""Image <-> file bytes with any codec: the path the CLI, eval and export share.

A codec is a trained `CompressionModel` from the zoo or a loaded SavedModel
(`tfvrc.export.SavedModelCodec`); both expose `codec_name`, `digest`,
`rate_range`, `default_rate`, `num_strings` and the `compress` / `decompress`
functions.
"""

import numpy as np
import tensorflow as tf

from tfvrc import bitstream

MAX_SIDE = 65535  # the container stores 16-bit sizes


def check_rate(codec, rate):
  """Returns `rate` as a float, or the default; refuses rates out of range."""
  if rate is None:
    rate = codec.default_rate
  # Compared in float32, the precision the models and the file use.
  lo, hi = (np.float32(r) for r in codec.rate_range)
  rate = np.float32(rate)
  if not lo <= rate <= hi:  # also refuses NaN
    raise ValueError(f"rate {rate:g} is outside the range [{lo:g}, {hi:g}] "
                     f"of model {codec.codec_name}")
  return float(rate)


def check_image(image):
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"expected a uint8 height x width x 3 image, got "
                     f"{image.dtype} {image.shape}")
  height, width = image.shape[:2]
  if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
    raise ValueError(f"image size {height}x{width} is outside 1..{MAX_SIDE}")
  return image


def encode(codec, image, rate=None):
  """Compresses a uint8 (H, W, 3) image into the bytes of a .tfvrc file."""
  image = check_image(image)
  rate = check_rate(codec, rate)
  strings = codec.compress(tf.constant(image), tf.constant(rate, tf.float32))
  header = bitstream.Header(
      model_name=codec.codec_name, weights_digest=codec.digest, rate=rate,
      height=image.shape[0], width=image.shape[1], num_layers=1)
  return bitstream.pack(header, [s.numpy()[0] for s in strings])


def decode(codec, data):
  """Decompresses the bytes of a .tfvrc file into a uint8 (H, W, 3) image."""
  header, strings = bitstream.unpack(data)
  bitstream.check_model(header, codec.codec_name, codec.digest)
  if len(strings) != codec.num_strings:
    raise bitstream.BitstreamError(
        f"{len(strings)} payload strings, but {codec.codec_name} writes "
        f"{codec.num_strings}")
  check_rate(codec, header.rate)
  try:
    image = codec.decompress(
        tf.constant([header.height, header.width], tf.int32),
        tf.constant(header.rate, tf.float32),
        *[tf.constant([s]) for s in strings])
  except tf.errors.InvalidArgumentError as e:
    reason = ("the range decoder's sanity check failed"
              if "Sanity check failed" in e.message
              else e.message.strip().splitlines()[-1])
    raise bitstream.BitstreamError(
        f"the payload does not decode: {reason}") from None
  return image.numpy()


def read_header(data):
  """The header of a .tfvrc file (validated)."""
  return bitstream.unpack(data)[0]
