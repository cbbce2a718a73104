"""Image <-> file bytes with any codec: the path the CLI, eval and export share.

A codec is a trained model with its identity (`Codec`, what `zoo.load`
builds) or a loaded SavedModel (`tfvrc.export.SavedModelCodec`); both expose
`codec_name`, `digest`, `rate_range`, `default_rate`, `rate_points`,
`num_strings`, `graph_coding`, `format_versions` (the container versions it
decodes; it writes the newest) and the `compress` / `decompress` functions.
A codec whose coder is graph ops takes and returns (1,) string tensors; one
that codes eagerly (`graph_coding` False) takes and returns bytes.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tfvrc import bitstream
from tfvrc.entropy import indexed_coding
from tfvrc.entropy import range_coding


@dataclasses.dataclass(frozen=True)
class Codec:
  """A `CompressionModel` (coders built) with the name and weights digest
  its files carry, and the metadata of its weights file."""
  model: object
  codec_name: str
  digest: bytes
  meta: dict = dataclasses.field(default_factory=dict)

  @classmethod
  def of(cls, model, name):
    """A codec of an in-memory model (coders built), digest from its weights."""
    return cls(model, name, model.weights_digest())

  @property
  def rate_range(self):
    return self.model.rate_range

  @property
  def default_rate(self):
    return self.model.default_rate

  @property
  def rate_points(self):
    return self.model.rate_points

  @property
  def num_strings(self):
    return self.model.num_strings

  @property
  def graph_coding(self):
    return self.model.graph_coding

  @property
  def max_layers(self):
    return self.model.max_layers

  @property
  def format_versions(self):
    return self.model.format_versions

  @property
  def compress(self):
    return self.model.compress

  @property
  def decompress(self):
    return self.model.decompress

  @property
  def reconstruct(self):
    """The decoded image and estimated bits without range coding (a
    SavedModel codec does not offer it)."""
    return self.model.reconstruct

MAX_SIDE = 65535  # the container stores 16-bit sizes
# The largest image `decode` accepts by default: the header's size is checked
# against it before anything is allocated (decoding takes a few hundred bytes
# of memory per pixel). `decode(..., max_pixels=)` or `tfvrc decompress
# --max-pixels` raises it.
MAX_PIXELS = 2 ** 26


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
  points = getattr(codec, "rate_points", None)
  if points is not None and rate not in np.float32(points):
    raise ValueError(f"model {codec.codec_name} codes only at the rates it "
                     f"was trained for ({', '.join(f'{p:g}' for p in points)})"
                     f", not at {rate:g}")
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
  strings = [s if isinstance(s, bytes) else s.numpy()[0]
             for s in codec.compress(tf.constant(image),
                                     tf.constant(rate, tf.float32))]
  # A layered codec returns num_strings strings per layer it coded.
  per_layer = codec.num_strings
  layers = [strings[i:i + per_layer] for i in range(0, len(strings),
                                                    per_layer)]
  header = bitstream.Header(
      model_name=codec.codec_name, weights_digest=codec.digest, rate=rate,
      height=image.shape[0], width=image.shape[1], num_layers=len(layers),
      format_version=max(codec.format_versions))
  return bitstream.pack(header, layers)


def check_layers(header, layers):
  """`layers` (None: all the file holds) as an int in 1..num_layers."""
  count = header.num_layers
  if layers is None:
    return count
  if not 1 <= layers <= count:
    raise ValueError(f"cannot decode {layers} layers: the file holds {count} "
                     f"layer{'' if count == 1 else 's'} (1..{count})")
  return layers


def check_format_version(header, codec):
  """Refuses a file whose table indexes `codec` computes another way: a
  version 3 file needs the model's fixed-point path, older ones its float
  path (`zoo.for_file` builds the one a file needs)."""
  versions = codec.format_versions
  if header.format_version not in versions:
    raise bitstream.BitstreamError(
        f"a format version {header.format_version} file, but this codec of "
        f"{codec.codec_name} decodes versions "
        f"{', '.join(map(str, versions))} (zoo.for_file builds the codec a "
        "file needs)")


def decode(codec, data, max_pixels=None, layers=None):
  """Decompresses the bytes of a .tfvrc file into a uint8 (H, W, 3) image,
  refusing one of more than `max_pixels` (default MAX_PIXELS); of a layered
  file, its first `layers` layers (default: all)."""
  header, file_layers = bitstream.unpack(data)
  layers = file_layers[:check_layers(header, layers)]
  bitstream.check_model(header, codec.codec_name, codec.digest)
  check_format_version(header, codec)
  max_pixels = max_pixels or MAX_PIXELS
  if header.height * header.width > max_pixels:
    raise bitstream.BitstreamError(
        f"the image is {header.width}x{header.height}, more than the "
        f"{max_pixels} pixels this decoder accepts (raise max_pixels, or "
        "--max-pixels, to decode it)")
  max_layers = getattr(codec, "max_layers", 1)
  if len(layers) > max_layers:
    raise bitstream.BitstreamError(
        f"{len(layers)} layers, but {codec.codec_name} writes at most "
        f"{max_layers}")
  for number, strings in enumerate(layers, 1):
    if len(strings) != codec.num_strings:
      raise bitstream.BitstreamError(
          f"{len(strings)} payload strings in layer {number}, but "
          f"{codec.codec_name} writes {codec.num_strings}")
  check_rate(codec, header.rate)
  # A layered codec's rate is the number of layers it decodes.
  rate = len(layers) if max_layers > 1 else header.rate
  strings = [s for layer in layers for s in layer]
  try:
    image = codec.decompress(
        tf.constant([header.height, header.width], tf.int32),
        tf.constant(rate, tf.float32),
        *[tf.constant([s]) if codec.graph_coding else s for s in strings])
  except tf.errors.InvalidArgumentError as e:
    reason = next((r for r in indexed_coding.REASONS if r in e.message),
                  e.message.strip().splitlines()[-1])
    raise bitstream.BitstreamError(
        f"the payload does not decode: {reason}") from None
  except range_coding.PayloadError as e:  # an eagerly decoding codec's
    raise bitstream.BitstreamError(
        f"the payload does not decode: {e}") from None
  return image.numpy()


def read_header(data):
  """The header of a .tfvrc file (validated)."""
  return bitstream.unpack(data)[0]


def encode_to_target(codec, image, max_bpp=None, min_psnr=None, steps=12):
  """Searches the continuous rate for one image by bisection.

  With `max_bpp`: the largest rate whose real file is at most `max_bpp`.
  With `min_psnr`: the smallest rate whose decoded image reaches `min_psnr`.
  Only an encoding that was checked against the target is returned, so the
  target holds even where the model's rate curve is not monotone. Returns
  (file bytes, rate, bpp, psnr); ValueError when no rate in range meets it.
  """
  from tfvrc import metrics  # pylint: disable=import-outside-toplevel
  if (max_bpp is None) == (min_psnr is None):
    raise ValueError("give exactly one of a target bpp and a target PSNR")
  image = check_image(image)

  def trial(rate):
    data = encode(codec, image, rate)
    quality = (metrics.psnr(image, decode(codec, data))
               if min_psnr is not None else None)
    bpp = metrics.bpp(len(data), image.shape)
    meets = bpp <= max_bpp if max_bpp is not None else quality >= min_psnr
    return meets, (data, rate, bpp, quality)

  lo, hi = (float(r) for r in codec.rate_range)
  # Bits grow with the rate: a bpp target keeps the low end feasible, a PSNR
  # target the high end.
  feasible_end, other_end = (lo, hi) if max_bpp is not None else (hi, lo)
  meets, best = trial(feasible_end)
  if not meets:
    target = (f"{max_bpp:g} bpp" if max_bpp is not None
              else f"{min_psnr:g} dB")
    raise ValueError(f"no rate of {codec.codec_name} reaches {target}: its "
                     f"{'lowest' if max_bpp is not None else 'highest'} rate "
                     f"gives {best[2]:.4f} bpp"
                     + (f", {best[3]:.2f} dB" if best[3] is not None else ""))
  if lo == hi:  # a fixed-rate model: nothing to search
    return best
  meets, result = trial(other_end)
  if meets:
    return result
  good, bad = feasible_end, other_end
  for _ in range(steps):
    middle = (good + bad) / 2
    meets, result = trial(middle)
    if meets:
      good, best = middle, result
    else:
      bad = middle
  return best
