"""Scalable RNN-hyperprior coder (Su, Cheng, Sun, Katto, ICIP 2020).

K residual iterations share one set of ConvLSTM stacks (`layers.recurrent`).
Iteration k codes what the previous ones left: y_k = E(x - sum_{j<k} x~_j),
a hyper-latent z_k = HE(|y_k|) under its own factorized prior, and y_k under
a zero-mean Gaussian whose scales the hyper-synthesis HD predicts; the
reconstruction after k layers is 0.5 + sum_{j<=k} D(y^_j) (on 0..1). E, HE,
HD and D carry their LSTM state from one iteration to the next.

The rate knob is the number of layers, 1..K. A file holds one layer (y's and
z's strings) per iteration, and any prefix of its layers decodes
(`bitstream.truncate_layers`): the decoder needs only the states it builds
itself. For that to be exact, the encoder runs the decoder's own functions
(`_hyper_steps`, `_synthesis_steps`), float32 with fixed signatures, on what
it has just coded, so its k-th reconstruction is the decoder's, bit for bit.
The tables come from a fixed-point twin of HD (`layers.fixed_point`), so a
file decodes on any machine. Coding is driven from Python (`graph_coding`
False); E and D run tile by tile (`tiling`), every iteration of a tile in
turn, so memory does not grow with the image's activations.

Loss, as the original's: the sum over prefixes k of their RD cost,
lambda_k * MSE_k + sum_{j<=k} bpp_j, so layer j's rate counts K - j + 1 times
and every prefix is trained to be a good image on its own.
"""

import functools

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc import bitstream
from tfvrc import latent_codecs
from tfvrc.entropy import gaussian
from tfvrc.latent_codecs import base as codec_base
from tfvrc.layers import fixed_point as fixed_point_lib
from tfvrc.layers import recurrent
from tfvrc.models import base
from tfvrc.models import tiling

# E and HE downsample 64x in all: inputs are padded to a multiple of it.
PAD_MULTIPLE = 64
LATENT_FACTOR = 16  # y is 16x smaller than the (padded) image
# Coding runs E and D tile by tile (`tiling.tiled`), every iteration of a
# tile before the next tile, with context per side of their reach over the
# iterations, per layer of the model: measured by gradients at K = 4, the
# encoder's E and D iterations reach 206 pixels and D alone 5 latent samples.
ENCODER_MARGIN_PER_LAYER = 64  # pixels
DECODER_MARGIN_PER_LAYER = 2   # latent samples


def pad(x):
  """x (centred, -0.5..0.5) padded at the bottom and right with zeros (mid
  grey) to a multiple of PAD_MULTIPLE."""
  shape = tf.shape(x)
  extra = -shape[1:3] % PAD_MULTIPLE
  return tf.pad(x, [[0, 0], [0, extra[0]], [0, extra[1]], [0, 0]])


def gaussian_parameters(sigma):
  """GaussianConditional's parameters (mean 0, scale index) for the
  hyper-synthesis output used as the scale directly, lower-bounded at the
  scale table's first entry as tfc 1.x's GaussianConditional did."""
  index = gaussian.scale_index(tfc.lower_bound(sigma, gaussian.SCALE_MIN))
  return tf.concat([tf.zeros_like(index), index], axis=-1)


class ScalableRNN(base.CompressionModel):
  """Scalable RNN-hyperprior coder: one file of K layers, any prefix decodes
  (Su et al. 2020)."""

  family = "scalable_rnn"
  num_strings = 2  # per layer: y's, then z's
  graph_coding = False
  tile_size = 1024  # pixels, a multiple of PAD_MULTIPLE

  def __init__(self, lmbdas=(0.01, 0.02, 0.04, 0.08), num_filters=32,
               latent_depth=128, name=None):
    super().__init__(name=name)
    self.lmbdas = [float(l) for l in lmbdas]
    if list(self.lmbdas) != sorted(self.lmbdas) or not self.lmbdas:
      raise ValueError(f"lmbdas must be increasing, got {self.lmbdas}")
    self.max_layers = len(self.lmbdas)
    self.num_filters = num_filters
    self.latent_depth = latent_depth
    self.analysis_stack = recurrent.analysis_stack(num_filters, latent_depth)
    self.hyper_analysis_stack = recurrent.hyper_analysis_stack(num_filters)
    self.hyper_synthesis_stack = recurrent.hyper_synthesis_stack(
        num_filters, latent_depth)
    self.synthesis_stack = recurrent.synthesis_stack(num_filters)
    self.side_codecs = [latent_codecs.EntropyBottleneck(
        num_filters, name=f"side_{k}") for k in range(self.max_layers)]
    self._fixed_point_hyper = None  # `build_coders` decides
    self._iterate(tf.zeros([1, PAD_MULTIPLE, PAD_MULTIPLE, 3]), layers=1,
                  mode="noisy")  # builds every variable

  def get_config(self):
    return dict(lmbdas=self.lmbdas, num_filters=self.num_filters,
                latent_depth=self.latent_depth)

  # --- The rate knob: the number of layers --------------------------------

  @property
  def rate_range(self):
    return (1., float(self.max_layers))

  @property
  def rate_points(self):
    return [float(k) for k in range(1, self.max_layers + 1)]

  def lmbda(self, rate):
    return tf.gather(self.lmbdas, tf.cast(rate, tf.int32) - 1)

  def sample_rates(self, batch_size):
    """Training always runs every layer (the loss covers every prefix)."""
    return tf.fill([batch_size], float(self.max_layers))

  # --- Training and estimates ----------------------------------------------

  def _initial_states(self, x):
    """Zero LSTM states of (E, HE, HD, D) for the padded input x."""
    batch, height, width = tf.unstack(tf.shape(x)[:3])
    y_h, y_w = height // LATENT_FACTOR, width // LATENT_FACTOR
    return (self.analysis_stack.initial_state(batch, height, width),
            self.hyper_analysis_stack.initial_state(batch, y_h, y_w),
            self.hyper_synthesis_stack.initial_state(batch, y_h // 4, y_w // 4),
            self.synthesis_stack.initial_state(batch, y_h, y_w))

  def _iterate(self, x, layers, mode):
    """Runs `layers` iterations on a float batch (0..255): per layer, the
    reconstruction after it (0..255, cropped) and its bits per image.
    `mode`: "noisy" (training), "estimate" or "quantized" (as coded)."""
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    residual = pad(x / 255. - .5)
    s_a, s_ha, s_hs, s_s = self._initial_states(residual)
    total = tf.zeros_like(residual)
    reconstructions, bits = [], []
    for k in range(layers):
      y, s_a = self.analysis_stack(residual, s_a)
      z, s_ha = self.hyper_analysis_stack(tf.abs(y), s_ha)
      side = self.side_codecs[k]
      if mode == "quantized":
        z_hat, side_bits = side.quantized_forward(z, None)
      else:
        z_hat, side_bits = side.forward(z, None, mode == "noisy")
      if mode == "quantized":  # as coded
        params, s_hs = self._hyper_parameters(z_hat, s_hs)
        conditional = self.coder
      else:
        sigma, s_hs = self.hyper_synthesis_stack(z_hat, s_hs)
        params = gaussian_parameters(sigma)
        conditional = gaussian.GaussianConditional(compression=False)
      y_hat, y_bits = conditional(y, params, training=mode == "noisy")
      x_tilde, s_s = self.synthesis_stack(y_hat, s_s)
      residual -= x_tilde
      total += x_tilde
      reconstructions.append(255. * (.5 + total[:, :height, :width, :]))
      bits.append(side_bits + tf.cast(y_bits, tf.float32))
    return reconstructions, bits

  def _prefix(self, per_layer, rate):
    """Each image's entry of `per_layer` ([K, batch, ...]) at its rate."""
    index = tf.cast(rate, tf.int32) - 1
    return tf.gather(tf.experimental.numpy.moveaxis(per_layer, 0, 1), index,
                     batch_dims=1)

  def forward(self, x, rate, training):
    reconstructions, bits = self._iterate(
        x, self.max_layers, "noisy" if training else "estimate")
    return (self._prefix(tf.stack(reconstructions), rate),
            self._prefix(tf.cumsum(tf.stack(bits)), rate))

  def quantized_forward(self, x, rate):
    reconstructions, bits = self._iterate(x, self.max_layers, "quantized")
    return (self._prefix(tf.stack(reconstructions), rate),
            self._prefix(tf.cumsum(tf.stack(bits)), rate))

  def rd_terms(self, x, rate, training):
    """bpp and MSE of each image's first `rate` layers, and the loss: the
    summed RD cost of its prefixes 1..rate (the original's at rate K)."""
    x = tf.cast(x, tf.float32)
    reconstructions, bits = self._iterate(
        x, self.max_layers, "noisy" if training else "estimate")
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[1:3]), tf.float32)
    bpp = tf.cumsum(tf.stack(bits)) / num_pixels  # [K, batch]
    mse = tf.stack([tf.reduce_mean(tf.math.squared_difference(
        x, tf.cast(r, tf.float32)), axis=(1, 2, 3)) for r in reconstructions])
    costs = tf.cumsum(tf.constant(self.lmbdas)[:, None] * mse + bpp)
    return (self._prefix(bpp, rate), self._prefix(mse, rate),
            self._prefix(costs, rate))

  # --- Coding: the decoder's steps, run by both sides ----------------------

  @property
  def format_versions(self):
    return (bitstream.FLOAT_TABLE_VERSIONS if self._fixed_point_hyper is None
            else bitstream.FIXED_POINT_VERSIONS)

  def build_coders(self, tables=None, fixed_point=True):
    self._fixed_point_hyper = (
        fixed_point_lib.FixedPointRecurrentStack(self.hyper_synthesis_stack)
        if fixed_point else None)
    for k, side in enumerate(self.side_codecs):
      side.build_coders(codec_base.unprefixed(tables, f"side_{k}/"))
    self.coder = gaussian.GaussianConditional(compression=True)
    y_spec = tf.TensorSpec([1, None, None, self.latent_depth], tf.float32)
    params = tf.TensorSpec([1, None, None, 2 * self.latent_depth], tf.float32)
    string = tf.TensorSpec([1], tf.string)
    image_spec = tf.TensorSpec([1, None, None, 3], tf.float32)
    # Per number of layers: E and D over the image's tiles, and D alone.
    self._latent_steps = [tf.function(
        functools.partial(self.latents, layers=k), input_signature=[
            image_spec]) for k in range(1, self.max_layers + 1)]
    self._synthesis_steps = [tf.function(
        self.synthesis, input_signature=[tf.TensorSpec(
            [1, None, None, k * self.latent_depth], tf.float32)])
                             for k in range(1, self.max_layers + 1)]
    self._side_steps = [tf.function(
        self._side_step(side), input_signature=[
            y_spec, self.hyper_analysis_stack.state_spec()])
        for side in self.side_codecs]
    self._hyper_steps = [tf.function(
        self._hyper_step(side), input_signature=[
            string, tf.TensorSpec([2], tf.int32),
            self.hyper_synthesis_stack.state_spec()])
        for side in self.side_codecs]
    self._code_latent = tf.function(
        lambda y, params: (self.coder.compress(y, params),
                           self.coder.quantize(y, params)),
        input_signature=[y_spec, params])
    self._decode_latent = tf.function(
        self.coder.decompress, input_signature=[string, params])

  def coder_tables(self):
    tables = {}
    for k, side in enumerate(self.side_codecs):
      tables.update(codec_base.prefixed(side.coder_tables(), f"side_{k}/"))
    return tables

  def _side_step(self, side):
    """(y, HE states) -> z's string, HE's new states."""
    def step(y, s_ha):
      z, s_ha = self.hyper_analysis_stack(tf.abs(y), s_ha)
      (z_string,), _ = side.compress(z, None)
      return z_string, s_ha
    return step

  def _hyper_step(self, side):
    """(z's string, z's shape, HD states) -> y's Gaussian parameters, HD's
    new states."""
    def step(z_string, z_shape, s_hs):
      return self._hyper_parameters(
          side.decompress((z_string,), z_shape, None), s_hs)
    return step

  def _hyper_parameters(self, z_hat, s_hs):
    """y's Gaussian parameters and HD's new states: the one place the
    coder's tables are chosen. With the fixed-point HD (format version 3)
    the scales, states and table indexes are exact, so the same on every
    machine; else as versions 1 and 2 were written."""
    if self._fixed_point_hyper is None:
      sigma, s_hs = self.hyper_synthesis_stack(z_hat, s_hs)
      return gaussian_parameters(sigma), s_hs
    sigma, s_hs = self._fixed_point_hyper(z_hat, s_hs)
    index = gaussian.exact_scale_index(sigma)
    return tf.concat([tf.zeros_like(index), index], axis=-1), s_hs

  def compress_layers(self, image, layers, reconstruct=True):
    """Codes a uint8 image's first `layers` layers: (flat strings, y's then
    z's of each layer, and with `reconstruct` the uint8 image after each
    layer as the decoder decodes those strings, else None)."""
    x = tf.cast(image, tf.float32)[None]
    ys = tf.split(self._latent_steps[layers - 1](x), layers, axis=-1)
    s_ha = self._hyper_analysis_states(ys[0])
    z_shape, s_hs = self._z_shape_and_states(tf.shape(image)[:2])
    strings, y_hats = [], []
    for k in range(layers):
      z_string, s_ha = self._side_steps[k](ys[k], s_ha)
      params, s_hs = self._hyper_steps[k](z_string, z_shape, s_hs)
      y_string, y_hat = self._code_latent(ys[k], params)
      strings += [y_string.numpy()[0], z_string.numpy()[0]]
      y_hats.append(y_hat)
    if not reconstruct:
      return strings, None
    # Each prefix by the very function that decodes it.
    return strings, [self._image(y_hats[:k], tf.shape(image))
                     for k in range(1, layers + 1)]

  def _image(self, y_hats, shape):
    """The uint8 image of `shape` that D makes of the layers `y_hats`."""
    x_hat = self._synthesis_steps[len(y_hats) - 1](tf.concat(y_hats, -1))
    return base.to_uint8(x_hat[0, :shape[0], :shape[1], :]).numpy()

  def latents(self, x, layers):
    """y of the first `layers` iterations on x (0..255, [1, H, W, 3]),
    stacked on channels: per tile, every iteration's E, then D on y rounded
    as the coder quantizes it, to form the next residual."""
    def iterations(residual):
      s_a = self.analysis_stack.initial_state(1, *tf.unstack(
          tf.shape(residual)[1:3]))
      s_s = self.synthesis_stack.initial_state(1, *tf.unstack(
          tf.shape(residual)[1:3] // LATENT_FACTOR))
      ys = []
      for _ in range(layers):
        y, s_a = self.analysis_stack(residual, s_a)
        x_tilde, s_s = self.synthesis_stack(tf.round(y), s_s)
        residual -= x_tilde
        ys.append(y)
      return tf.concat(ys, -1)
    return tiling.tiled(iterations, pad(x / 255. - .5), self.tile_size,
                        ENCODER_MARGIN_PER_LAYER * self.max_layers,
                        layers * self.latent_depth, down=LATENT_FACTOR)

  def synthesis(self, y_hats):
    """The image (0..255, padded) after the layers stacked on the channels
    of y_hats: per tile of the latent, D over every layer in turn."""
    def iterations(window):
      s_s = self.synthesis_stack.initial_state(1, *tf.unstack(
          tf.shape(window)[1:3]))
      total = 0.
      for y_hat in tf.split(window, y_hats.shape[-1] // self.latent_depth,
                            axis=-1):
        x_tilde, s_s = self.synthesis_stack(y_hat, s_s)
        total += x_tilde
      return 255. * (.5 + total)
    return tiling.tiled(iterations, y_hats, self.tile_size // LATENT_FACTOR,
                        DECODER_MARGIN_PER_LAYER * self.max_layers, 3,
                        up=LATENT_FACTOR)

  # --- Coding as integers, for serving (see base.CompressionModel) --------
  # The same steps as above, with symbols where the range coder was. A
  # server is stateless, so each request recomputes the states it needs
  # from the symbols it is given.

  serving_split = True

  def decode_order(self):
    return tuple(j for k in range(self.max_layers) for j in (2 * k + 1, 2 * k))

  def analyze(self, x, rate):
    """The first `rate` layers' (the iterations after them are not run:
    their strings' symbols and indexes are empty)."""
    layers = tf.cast(tf.reshape(rate, []), tf.int32)
    # Branches as tf.functions: AutoGraph converts their tiling loops.
    return tf.switch_case(layers - 1, [
        tf.function(functools.partial(self._analyze_layers, x, n))
        for n in range(1, self.max_layers + 1)])

  def _analyze_layers(self, x, layers):
    """`analyze` at `layers` layers (a Python int)."""
    ys = tf.split(self.latents(x, layers), layers, axis=-1)
    s_ha = self._hyper_analysis_states(ys[0])
    _, s_hs = self._z_shape_and_states(tf.shape(x)[1:3])
    coded = []
    for y, side in zip(ys, self.side_codecs):
      z, s_ha = self.hyper_analysis_stack(tf.abs(y), s_ha)
      (z_coded,), z_hat = side.symbols(z, None)
      params, s_hs = self._hyper_parameters(z_hat, s_hs)
      coded += [self.coder.symbols(y, params), z_coded]
    empty = [tuple(t[:, :0, :0] for t in pair) for pair in coded[:2]]
    return coded + empty * (self.max_layers - layers)

  def _hyper_analysis_states(self, y):
    """HE's zero states for a latent like y."""
    return self.hyper_analysis_stack.initial_state(1, *tf.unstack(
        tf.shape(y)[1:3]))

  def _z_shape_and_states(self, shape):
    """z's shape and HD's zero states for an image of `shape`."""
    z_shape = -(-shape // PAD_MULTIPLE)
    return z_shape, self.hyper_synthesis_stack.initial_state(
        1, *tf.unstack(z_shape))

  def _y_parameters(self, layers, z_symbols, shape):
    """y's Gaussian parameters of each of the first `layers` layers."""
    z_shape, s_hs = self._z_shape_and_states(shape)
    params = []
    for k in range(layers):
      z_hat = self.side_codecs[k].dequantize((z_symbols[k],), z_shape, None)
      p, s_hs = self._hyper_parameters(z_hat, s_hs)
      params.append(p)
    return params

  def decode_indexes(self, k, known, shape, rate):
    layer, is_side = divmod(k, 2)
    if is_side:
      z_shape, _ = self._z_shape_and_states(shape)
      return self.side_codecs[layer].decode_indexes((), z_shape, None)
    params = self._y_parameters(
        layer + 1, [known[2 * j + 1] for j in range(layer + 1)], shape)
    return self.coder.indexes(params[-1])

  def synthesize(self, symbols, shape, rate):
    layers = len(symbols) // self.num_strings
    params = self._y_parameters(layers, symbols[1::2], shape)
    return self.synthesis(tf.concat(
        [self.coder.values(y_symbols, p)
         for y_symbols, p in zip(symbols[0::2], params)], -1))

  def cdf_tables(self):
    return [table for side in self.side_codecs
            for table in (self.coder.cdf_table, *side.cdf_tables())]

  def _check_layers(self, rate):
    layers = int(np.asarray(rate).reshape(-1)[0])
    if float(layers) not in self.rate_points:
      raise ValueError(f"{self.family} codes 1..{self.max_layers} layers, "
                       f"not {rate}")
    return layers

  def _compress(self, image, rate):
    return self.compress_layers(image, self._check_layers(rate),
                                reconstruct=False)[0]

  def _decompress(self, shape, rate, *strings):
    layers = self._check_layers(rate)
    if len(strings) != self.num_strings * layers:
      raise ValueError(f"{layers} layers take {self.num_strings * layers} "
                       f"strings, got {len(strings)}")
    z_shape, s_hs = self._z_shape_and_states(tf.cast(shape, tf.int32))
    y_hats = []
    for k in range(layers):
      y_string, z_string = (tf.constant([s]) for s in strings[2 * k:2 * k + 2])
      params, s_hs = self._hyper_steps[k](z_string, z_shape, s_hs)
      y_hats.append(self._decode_latent(y_string, params))
    return tf.constant(self._image(y_hats, shape))
