"""A hyperprior with a raster-scan context model and a mixture likelihood
(Cheng et al. 2020; Fu et al. 2022), coded with the `range-coder` package.

y is rounded (no mean subtraction, as the originals) and each element's
mixture parameters come from an entropy-parameter network on the 5x5
type-A masked convolution of the already-coded latents ("context") and the
hyper-synthesis output phi. Decoding is sequential, but all positions with
equal t = column + 3 * row depend only on positions of smaller t, so they
decode together: a wavefront of (width - 1) + 3 (height - 1) + 1 steps (141
on a Kodak latent) instead of one per position.

Both sides run the same step function on the same batches (`step`: the
context as a matrix product of the 12 causal taps, then the network and the
pmfs), so they build the same tables; a full-image convolution gives other
floats, which is why training uses it but coding does not. Since format
version 3 the step and phi are computed in fixed point and the pmfs as
integer masses (`exact_mixture`), so the tables are also the same on other
machines and settings; version-2 files decode with the float step that
wrote them. Channels that are zero everywhere are flagged and skipped, as
the original does. y's string:
minmax (u16), the channel flags, a CRC32 of y_hat, the range-coded symbols.
`encode_latent` / `decode_latent` write and read it with any step function:
the model's own, or a server's (`tfvrc.serving`).
"""

import struct
import zlib

import numpy as np
import tensorflow as tf

from tfvrc import bitstream
from tfvrc.entropy import exact_mixture
from tfvrc.entropy import mixture
from tfvrc.entropy import range_coding
from tfvrc.latent_codecs import base
from tfvrc.latent_codecs import hyperprior
from tfvrc.layers import fixed_point as fixed_point_lib
from tfvrc.layers import msrb

# The causal taps of a 5x5 type-A mask: two rows above, two to the left.
CAUSAL_OFFSETS = tuple([(dy, dx) for dy in (-2, -1) for dx in range(-2, 3)]
                       + [(0, -2), (0, -1)])
# |y_hat| is clipped to this, so a table has at most 1023 symbols.
MAX_MAGNITUDE = (range_coding.MAX_SYMBOLS - 1) // 2
_HEADER = struct.Struct(">HI")  # minmax, CRC32 of y_hat (flags in between)


class MaskedConv2D(tf.keras.layers.Layer):
  """5x5 convolution over causal neighbours only (type A: not the centre)."""

  def __init__(self, filters, name="context"):
    super().__init__(name=name, dtype="float32")
    self.filters = filters
    mask = np.zeros((5, 5, 1, 1), np.float32)
    for dy, dx in CAUSAL_OFFSETS:
      mask[dy + 2, dx + 2] = 1.
    self.mask = tf.constant(mask)

  def build(self, input_shape):
    self.kernel = self.add_weight(
        "kernel", (5, 5, int(input_shape[-1]), self.filters),
        initializer="glorot_uniform")
    self.bias = self.add_weight("bias", (self.filters,), initializer="zeros")

  def call(self, y):
    return tf.nn.conv2d(y, self.kernel * self.mask, 1, "SAME") + self.bias

  def causal_matrix(self):
    """[12 C, filters]: the kernel as a product with the taps'
    concatenation, in CAUSAL_OFFSETS order."""
    return tf.concat([self.kernel[dy + 2, dx + 2]
                      for dy, dx in CAUSAL_OFFSETS], 0)


def wavefront(height, width):
  """Per decoding step, the (rows, columns) of its positions."""
  steps = []
  for t in range((width - 1) + 3 * (height - 1) + 1):
    rows = np.arange(height)
    cols = t - 3 * rows
    keep = (cols >= 0) & (cols < width)
    steps.append((rows[keep], cols[keep]))
  return steps


def gather_taps(padded, rows, cols):
  """[k, 12 C] causal taps of positions (rows, cols) from y_hat padded by 2
  above, left and right."""
  taps = [padded[rows + 2 + dy, cols + 2 + dx] for dy, dx in CAUSAL_OFFSETS]
  return np.concatenate(taps, axis=-1)


class ContextCodec(base.LatentCodec):
  """y under a `kind` mixture ("gaussian" or "gllmm") whose parameters come
  from its context and a hyperprior; z by the `side` latent codec."""

  num_strings = 2  # y's, then z's

  def __init__(self, hyper_analysis, hyper_synthesis, side, channels,
               kind="gaussian", name="context_hyperprior"):
    super().__init__(name=name)
    if side.num_strings != 1:
      raise ValueError("the side codec must write one string")
    self.hyper_analysis = hyper_analysis
    self.hyper_synthesis = hyper_synthesis
    self.side = side
    self.channels = channels
    self.kind = kind
    self.context = MaskedConv2D(2 * channels)
    self._fixed_point = None  # `build_coders` decides
    wide = 640 if kind == "gaussian" else 1280
    self.entropy_parameters = tf.keras.Sequential([
        tf.keras.layers.Dense(640, activation=msrb.leaky_relu,
                              name="layer_0", dtype="float32"),
        tf.keras.layers.Dense(wide, activation=msrb.leaky_relu,
                              name="layer_1", dtype="float32"),
        tf.keras.layers.Dense(mixture.num_params(kind) * channels,
                              use_bias=False, name="layer_2",
                              dtype="float32")], name="entropy_parameters")

  def _phi(self, z_hat, shape):
    return self.hyper_synthesis(z_hat)[:, :shape[0], :shape[1], :]

  def _coding_phi(self, z_hat, shape):
    """phi as both coding sides compute it (`build_coders` chose how)."""
    if self._fixed_point is None:
      return self._phi(z_hat, shape)
    return self._fixed_point.phi(z_hat)[:, :shape[0], :shape[1], :]

  @property
  def format_versions(self):
    return (bitstream.FLOAT_TABLE_VERSIONS if self._fixed_point is None
            else bitstream.FIXED_POINT_VERSIONS)

  def _bits(self, y_hat, phi):
    params = self.entropy_parameters(
        tf.concat([self.context(y_hat), phi], -1))
    likelihood = mixture.likelihood(y_hat, params, self.kind)
    return tf.reduce_sum(-tf.math.log(likelihood), axis=(1, 2, 3)) / np.log(2.)

  def forward(self, y, rate, training):
    z_hat, side_bits = self.side.forward(self.hyper_analysis(y), rate,
                                         training)
    phi = self._phi(z_hat, tf.shape(y)[1:3])
    y_hat = (y + tf.random.uniform(tf.shape(y), -.5, .5) if training
             else quantize(y))
    return y_hat, self._bits(y_hat, phi) + side_bits

  def quantized_forward(self, y, rate):
    z_hat, side_bits = self.side.quantized_forward(self.hyper_analysis(y),
                                                   rate)
    y_hat = quantize(y)
    return y_hat, self._bits(y_hat, self._phi(z_hat, tf.shape(y)[1:3])) + (
        side_bits)

  def build_coders(self, tables=None, fixed_point=True):
    self.side.build_coders(tables, fixed_point)
    self._fixed_point = _FixedPointStep(self) if fixed_point else None
    # phi as a graph, as a server computes it, so both give the same floats.
    self._phi_graph = tf.function(self._coding_phi, input_signature=[
        tf.TensorSpec([1, None, None, None], tf.float32),
        tf.TensorSpec([2], tf.int32)])
    self._step = tf.function(self.step, input_signature=[
        tf.TensorSpec([None, 12 * self.channels], tf.float32),
        tf.TensorSpec([None, 2 * self.channels], tf.float32),
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)])

  def coder_tables(self):
    return self.side.coder_tables()

  def step(self, taps, phi, channels, minmax):
    """[k, len(channels), 2 minmax + 1] pmfs of positions with these causal
    taps and hyper-synthesis outputs, for the listed channels: floats, or
    integer masses where `build_coders` chose fixed point."""
    if self._fixed_point is not None:
      return self._fixed_point.step(taps, phi, channels, minmax)
    context = tf.matmul(taps, self.context.causal_matrix()) + self.context.bias
    params = self.entropy_parameters(tf.concat([context, phi], -1))
    return mixture.pmf(self.selected(params, channels), minmax, self.kind)

  def selected(self, params, channels):
    """The entropy parameters [k, num_params * C] of the listed channels
    only."""
    count = mixture.num_params(self.kind)
    params = tf.gather(tf.reshape(params, [-1, count, self.channels]),
                       channels, axis=2)
    return tf.reshape(params, [-1, count * tf.size(channels)])

  def coding_step(self, taps, phi, channels, minmax):
    """`step` as traced for coding, numpy in and out (a server runs the
    same step for a client: `tfvrc.serving`)."""
    return self._step(tf.constant(taps), tf.constant(phi),
                      tf.constant(channels, tf.int32),
                      tf.constant(minmax, tf.int32)).numpy()

  def compress(self, y, rate):
    (z_string,), z_hat = self.side.compress(self.hyper_analysis(y), rate)
    phi = self._phi_graph(z_hat, tf.shape(y)[1:3])[0].numpy()
    y_string, y_hat = encode_latent(quantize(y)[0].numpy(), phi,
                                     self.coding_step)
    return (y_string, z_string.numpy()[0]), tf.constant(y_hat[None])

  def decompress(self, strings, shape, rate):
    y_string, z_string = (bytes(s) for s in strings)
    z_hat = self.side.decompress(
        (tf.constant([z_string]),),
        hyperprior.latent_shape(shape, hyperprior.SIDE_FACTOR), rate)
    phi = self._phi_graph(z_hat, tf.constant(shape, tf.int32))[0].numpy()
    return tf.constant(decode_latent(y_string, phi, self.coding_step)[None])

  # --- Coding as integers, for serving (see base.LatentCodec): y's string
  # is a context string, whose "indexes" are phi: a client codes it with
  # `encode_latent` / `decode_latent` and the server's `step`.

  def symbols(self, y, rate):
    side_coded, z_hat = self.side.symbols(self.hyper_analysis(y), rate)
    y_hat = quantize(y)
    phi = self._coding_phi(z_hat, tf.shape(y)[1:3])
    return ((tf.cast(y_hat, tf.int32), phi), *side_coded), y_hat

  def decode_indexes(self, known, shape, rate):
    side_shape = hyperprior.latent_shape(shape, hyperprior.SIDE_FACTOR)
    if len(known) < self.side.num_strings:
      return self.side.decode_indexes(known, side_shape, rate)
    return self._coding_phi(self.side.dequantize(known, side_shape, rate),
                            shape)

  def dequantize(self, symbols, shape, rate):
    del shape, rate
    return tf.cast(symbols[0], tf.float32)

  def cdf_tables(self):
    empty = np.zeros([0], np.int32)  # y's tables come from `step`
    return ((empty, empty), *self.side.cdf_tables())


def _run(phi, channels, minmax, shape, step, code_step):
  """Runs the wavefront over a [height, width] latent: per step, the
  tables of its positions' flagged channels, from their pmfs
  `step(taps, phi, channels, minmax)`, handed to `code_step(rows, cols,
  cdfs)`, which returns their symbols (0..L-1, [k, len(channels)]). Returns
  y_hat [height, width, C]."""
  height, width = shape
  padded = np.zeros((height + 2, width + 4, phi.shape[-1] // 2), np.float32)
  if not len(channels):
    return padded[2:, 2:-2]
  for rows, cols in wavefront(height, width):
    pmfs = step(gather_taps(padded, rows, cols), phi[rows, cols], channels,
                minmax)
    cdfs = mixture.quantized_cdfs(pmfs.reshape(-1, 2 * minmax + 1))
    symbols = code_step(rows, cols, cdfs)
    padded[(rows + 2)[:, None], (cols + 2)[:, None], channels] = (
        symbols - minmax)
  return padded[2:, 2:-2]


def encode_latent(y_hat, phi, step):
  """(y's string, y_hat as decoded) of integer y_hat [h, w, C] (numpy),
  under the pmfs `step` gives from its hyper-synthesis output phi
  [h, w, 2 C] and causal taps."""
  minmax = max(1, int(np.abs(y_hat).max()))
  channels = np.flatnonzero(np.any(y_hat != 0, axis=(0, 1)))
  encoder = range_coding.Encoder()

  def code_step(rows, cols, cdfs):
    symbols = y_hat[rows[:, None], cols[:, None], channels] + minmax
    encoder.encode(symbols.astype(np.int64).reshape(-1), cdfs)
    return symbols
  try:
    decoded = _run(phi, channels, minmax, y_hat.shape[:2], step, code_step)
  finally:
    payload = encoder.finish()
  flags = np.zeros(y_hat.shape[-1], bool)
  flags[channels] = True
  header = (struct.pack(">H", minmax) + np.packbits(flags).tobytes()
            + struct.pack(">I", checksum(decoded)))
  return header + payload, decoded


def decode_latent(y_string, phi, step):
  """Inverse of `encode_latent`: y_hat [h, w, C] (numpy) of y's string."""
  minmax, channels, crc, payload = _parse(bytes(y_string),
                                          phi.shape[-1] // 2)
  decoder = range_coding.Decoder(payload)

  def code_step(rows, cols, cdfs):
    return decoder.decode(cdfs).reshape(len(rows), len(channels))
  try:
    y_hat = _run(phi, channels, minmax, phi.shape[:2], step, code_step)
  finally:
    decoder.close()
  if checksum(y_hat) != crc:
    raise range_coding.PayloadError(
        "the latent does not decode (checksum mismatch): the payload is "
        "corrupt or was written by other weights")
  return y_hat


def _parse(y_string, num_channels):
  """(minmax, flagged channels, CRC32, coded bytes) of y's string."""
  flag_bytes = -(-num_channels // 8)
  if len(y_string) < _HEADER.size + flag_bytes:
    raise range_coding.PayloadError(
        f"the latent's string is {len(y_string)} bytes, shorter than its "
        f"{_HEADER.size + flag_bytes}-byte header")
  (minmax,) = struct.unpack_from(">H", y_string)
  flags = np.unpackbits(np.frombuffer(y_string[2:2 + flag_bytes], np.uint8),
                        count=num_channels).astype(bool)
  (crc,) = struct.unpack_from(">I", y_string, 2 + flag_bytes)
  if not 1 <= minmax <= MAX_MAGNITUDE:
    raise range_coding.PayloadError(
        f"the latent's magnitude {minmax} is outside 1..{MAX_MAGNITUDE}")
  return minmax, np.flatnonzero(flags), crc, y_string[6 + flag_bytes:]


def quantize(y):
  """round(y), clipped so every table fits the range coder."""
  return tf.clip_by_value(tf.round(y), -MAX_MAGNITUDE, MAX_MAGNITUDE)


def checksum(y_hat):
  return zlib.crc32(np.asarray(y_hat, np.int16).tobytes())


class _FixedPointStep:
  """phi and `ContextCodec.step` of a trained codec on integers: its
  hyper-synthesis, context taps and entropy-parameter network in fixed point
  (`layers.fixed_point`), its pmfs as integer masses (`exact_mixture`), so
  every machine builds the same tables (format version 3)."""

  def __init__(self, codec):
    self.codec = codec
    self.hyper_synthesis = fixed_point_lib.FixedPointSequential(
        codec.hyper_synthesis)
    self.context = fixed_point_lib.FixedPointLayer(
        "dense", codec.context.causal_matrix(), codec.context.bias,
        name=codec.context.name)
    self.entropy_parameters = fixed_point_lib.FixedPointSequential(
        codec.entropy_parameters)

  def phi(self, z_hat):
    return self.hyper_synthesis(z_hat)

  def step(self, taps, phi, channels, minmax):
    units = tf.concat([self.context(fixed_point_lib.to_units(taps)),
                       fixed_point_lib.to_units(phi)], -1)
    params = self.codec.selected(self.entropy_parameters.units(units),
                                 channels)
    return exact_mixture.pmf(params, minmax, self.codec.kind,
                             fixed_point_lib.FRACTION_BITS)
