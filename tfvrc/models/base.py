"""The contract every tfvrc compressor follows.

A compressor is a `tf.keras.Model` whose rate knob (`rate_range`, larger means
more bits) is an input of every step: `call((x, rate))` gives the noisy
reconstruction and bits per image, `train_step` draws rates from the family's
training distribution, and `compress` / `decompress` are `tf.function`s with
fixed input signatures that code one uint8 image.
"""

import functools
import hashlib

import numpy as np
import tensorflow as tf

from tfvrc import bitstream
from tfvrc.layers import gain

IMAGE_SPEC = tf.TensorSpec((None, None, 3), tf.uint8, name="image")
RATE_SPEC = tf.TensorSpec((), tf.float32, name="rate")
SHAPE_SPEC = tf.TensorSpec((2,), tf.int32, name="shape")
STRING_SPEC = tf.TensorSpec((1,), tf.string)


@functools.lru_cache(maxsize=None)
def check_graph_equality():
  """Raises unless tensors compare as tensors inside a tf.function.

  With TensorFlow 2.14, when TensorFlow is first imported inside the main
  function that absl's `app.run` calls, `tensor == 1` in a tf.function is
  a Python False: `tfc.GDN` then takes its `x ** alpha` path instead of
  |x|, and every GDN model computes garbage in graphs, silently (seen
  2026-12-03: kodim01 at rate 0 coded into 185,536 bytes at 13.6 dB instead
  of 3,886 bytes at 20.9 dB, in a script that imported tfvrc in its main).
  """
  compared = []  # what `==` gives while tracing
  tf.function(lambda: compared.append(tf.constant(1.) == 1.))()
  if not tf.is_tensor(compared[0]):
    raise RuntimeError(
        "TensorFlow compares tensors as Python objects inside tf.functions "
        "here, which breaks tfc.GDN silently. This happens when TensorFlow "
        "is first imported inside absl's app.run main: import tensorflow "
        "(or tfvrc's models) before app.run.")


class CompressionModel(tf.keras.Model):
  """Base class: rate handling, the RD training loop and the coding signatures.

  Subclasses set `family` and `num_strings`, and implement `forward` (training
  and estimation), `encode` and `decode` (real bitstreams), `rate_range`,
  `lmbda` and `sample_rates`.
  """

  family = None
  num_strings = None

  def __init__(self, name=None):
    check_graph_equality()
    # The model's own inputs (image, rate) stay float32 under a
    # mixed-precision policy; its transforms compute in the policy's type.
    super().__init__(name=name or self.family, dtype="float32")
    if not self.graph_coding:  # coded from Python: see `graph_coding`
      self.compress, self.decompress = self._compress, self._decompress
      return
    self.compress = tf.function(
        self._compress, input_signature=[IMAGE_SPEC, RATE_SPEC])
    self.decompress = tf.function(
        self._decompress,
        input_signature=[SHAPE_SPEC, RATE_SPEC]
        + [STRING_SPEC] * self.num_strings)

  # --- The rate knob -------------------------------------------------------

  @property
  def rate_range(self):
    """(lowest, highest) accepted rate, as Python floats."""
    raise NotImplementedError

  @property
  def default_rate(self):
    return self.rate_range[1]

  # The only rates a model with discrete rate points codes (None: any rate
  # in `rate_range`).
  rate_points = None

  def lmbda(self, rate):
    """The Lagrange multiplier (bpp + lambda * MSE on 0..255) of each rate."""
    raise NotImplementedError

  def sample_rates(self, batch_size):
    """Rates for one training batch, drawn from the family's distribution."""
    raise NotImplementedError

  def trained_variables(self):
    """What `train_step` updates: every trainable variable, unless a family
    trains only part of itself (all of them are saved either way)."""
    return self.trainable_variables

  # Exponent of the training loss weights (`loss_weights`); the trainer's
  # --lmbda_power sets it. 0: the papers' plain mean over the batch.
  lmbda_power = 0.

  def loss_weights(self, rate):
    """Each crop's weight in a training step: (lambda / lambda at the default
    rate) ** -lmbda_power. The RD loss grows with lambda, so under the plain
    mean the high rates steer the shared weights almost alone
    (experiments/default_model/level_gradients.py); a positive power evens
    that out."""
    if not self.lmbda_power:
      return tf.ones_like(rate)
    reference = self.lmbda(tf.constant([self.default_rate], tf.float32))
    return (self.lmbda(rate) / reference) ** -self.lmbda_power

  def training_batch(self, x):
    """(images, rates) a training step optimises: by default each image at
    one rate drawn by `sample_rates`."""
    return x, self.sample_rates(tf.shape(x)[0])

  def get_config(self):
    """Constructor arguments; a zoo entry stores them beside the weights."""
    raise NotImplementedError

  # --- Training ------------------------------------------------------------

  def forward(self, x, rate, training):
    """Returns (reconstruction, bits per image) for a float batch in 0..255."""
    raise NotImplementedError

  def call(self, inputs, training=None):
    x, rate = inputs
    return self.forward(tf.cast(x, tf.float32), rate, bool(training))

  def rd_terms(self, x, rate, training):
    """Per-image bpp, MSE (0..255 scale) and the RD loss bpp + lambda * MSE."""
    x = tf.cast(x, tf.float32)
    x_hat, bits = self((x, rate), training=training)
    # Under a mixed-precision policy the transforms compute in (b)float16.
    x_hat, bits = tf.cast(x_hat, tf.float32), tf.cast(bits, tf.float32)
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[1:-1]), tf.float32)
    bpp = bits / num_pixels
    mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat), axis=(1, 2, 3))
    return bpp, mse, bpp + self.lmbda(rate) * mse

  def compile(self, **kwargs):
    super().compile(loss=None, metrics=None, **kwargs)
    self.loss_metric = tf.keras.metrics.Mean(name="loss")
    self.bpp_metric = tf.keras.metrics.Mean(name="bpp")
    self.mse_metric = tf.keras.metrics.Mean(name="mse")
    self.psnr_metric = tf.keras.metrics.Mean(name="psnr")

  def _update_metrics(self, bpp, mse, loss):
    self.loss_metric.update_state(loss)
    self.bpp_metric.update_state(bpp)
    self.mse_metric.update_state(mse)
    self.psnr_metric.update_state(psnr_from_mse(mse))
    return {m.name: m.result() for m in (
        self.loss_metric, self.bpp_metric, self.mse_metric, self.psnr_metric)}

  def train_step(self, x):
    x, rate = self.training_batch(x)
    with tf.GradientTape() as tape:
      bpp, mse, loss = self.rd_terms(x, rate, training=True)
      # Keras sums gradients over replicas, so each replica takes its share.
      replicas = tf.distribute.get_strategy().num_replicas_in_sync
      scaled_loss = tf.reduce_mean(loss * self.loss_weights(rate)) / replicas
    variables = self.trained_variables()
    gradients = tape.gradient(scaled_loss, variables)
    self.optimizer.apply_gradients(zip(gradients, variables))
    return self._update_metrics(bpp, mse, loss)

  def test_step(self, x):
    x, rate = self.training_batch(x)
    return self._update_metrics(*self.rd_terms(x, rate, training=False))

  def predict_step(self, data):
    raise NotImplementedError("use compress/decompress or reconstruct")

  # --- Coding --------------------------------------------------------------

  # Whether `compress` / `decompress` are all graph ops (tfc's range coders),
  # so that they trace into a SavedModel; a family whose coding is driven
  # from Python sets False, and its strings are bytes.
  graph_coding = True

  # Layers a file holds at most: a layered family's `compress` returns
  # `num_strings` strings per layer it codes, and any prefix of the layers
  # decodes (its rate knob is then the number of layers).
  max_layers = 1
  # The container versions whose files the model decodes (see
  # `latent_codecs.base.LatentCodec.format_versions`); it writes the newest.
  format_versions = bitstream.FLOAT_TABLE_VERSIONS

  def build_coders(self, tables=None, fixed_point=True):
    """Builds the range coders from the current weights (eagerly), or from
    `tables` that `coder_tables` returned for these weights; `fixed_point`:
    see `LatentCodec.build_coders`."""
    raise NotImplementedError

  def coder_tables(self):
    """Arrays that rebuild the coders quickly (see `zoo.publish`)."""
    raise NotImplementedError

  def encode(self, x, rate):
    """Float batch of one image -> tuple of `num_strings` (1,) strings."""
    raise NotImplementedError

  def decode(self, shape, rate, strings):
    """Inverse of `encode`: the float reconstruction, possibly padded."""
    raise NotImplementedError

  def quantized_forward(self, x, rate):
    """The reconstruction and estimated bits that `encode`/`decode` realise."""
    raise NotImplementedError

  # Whether the family splits coding into integers and range coding, so a
  # server can run its networks and a client the range coder
  # (`tfvrc.serving`): then it implements the methods below. They speak of
  # the strings of a full file (`num_strings` per layer, `max_layers`
  # layers), with int32 symbols and table indexes per string (as in
  # `latent_codecs.base.LatentCodec`).
  serving_split = False
  # Strings coded with a context model (`latent_codecs.context`): their
  # "table indexes" are the hyper-synthesis output phi, and a client codes
  # them with `context_step` run between range-coder calls.
  context_strings = ()

  def decode_order(self):
    """The string numbers of a full file in the order a decoder needs them
    (a string's tables depend on the symbols of those before it)."""
    raise NotImplementedError

  def analyze(self, x, rate):
    """Per string of a full file, the (symbols, table indexes) `encode`
    range-codes (a layered family codes its first `rate` layers; the later
    strings' are empty)."""
    raise NotImplementedError

  def decode_indexes(self, k, known, shape, rate):
    """The table indexes of string k, given {j: symbols} of the strings
    before it in `decode_order`."""
    raise NotImplementedError

  def synthesize(self, symbols, shape, rate):
    """`decode` from the symbols of a file's strings (a layered family's
    first len(symbols) / num_strings layers)."""
    raise NotImplementedError

  def cdf_tables(self):
    """Per string of a full file, the (cdf, cdf_offset) its indexes point
    into."""
    raise NotImplementedError

  def legacy_components(self):
    """The layers and modules whose trainable weights a positional weights
    file (written before weights were keyed by name) holds, in its order."""
    raise NotImplementedError

  def _assert_rate(self, rate):
    lo, hi = self.rate_range
    checks = [tf.debugging.assert_greater_equal(rate, lo, "rate below range"),
              tf.debugging.assert_less_equal(rate, hi, "rate above range")]
    if self.rate_points is not None:
      checks.append(tf.debugging.Assert(
          tf.reduce_any(tf.equal(rate, self.rate_points)),
          ["rate is not one of the model's rate points", rate]))
    return checks

  def _compress(self, image, rate):
    with tf.control_dependencies(self._assert_rate(rate)):
      x = tf.cast(image, tf.float32)[None]
    return self.encode(x, tf.reshape(rate, [1]))

  def _decompress(self, shape, rate, *strings):
    with tf.control_dependencies(self._assert_rate(rate)):
      x_hat = self.decode(shape, tf.reshape(rate, [1]), strings)
    return to_uint8(x_hat[0, :shape[0], :shape[1], :])

  @tf.function(input_signature=[IMAGE_SPEC, RATE_SPEC])
  def reconstruct(self, image, rate):
    """The decoded image and estimated bits, without range coding."""
    x_hat, bits = self.quantized_forward(
        tf.cast(image, tf.float32)[None], tf.reshape(rate, [1]))
    shape = tf.shape(image)
    return to_uint8(x_hat[0, :shape[0], :shape[1], :]), bits[0]

  def weights_digest(self):
    """`weights_digest` of the trainable weights in model order, as a
    weights file written from this model has them."""
    return weights_digest(w.numpy() for w in self.trainable_weights)


class LambdaInit:
  """Mixed into a variable-rate family whose rate-dependent channel scales
  can start near each lambda's own trade-off (`gain.lambda_log_gain`)
  instead of as in its paper: around the geometric mean of its lambdas, or,
  after `zoo.init_from` a fixed-rate baseline, around the baseline's lambda.
  Otherwise the rates separate only as fast as the optimizer moves the
  scales."""

  def _start_scales(self, option, value, paper_value):
    """Validates and keeps (as attribute `option`) the family's init option;
    "lambda" sets the scales."""
    if value not in ("lambda", paper_value):
      raise ValueError(f"{option} must be 'lambda' or {paper_value!r}, got "
                       f"{value!r}")
    setattr(self, option, value)
    self.lambda_init = value == "lambda"
    if self.lambda_init:
      self.set_lambda_scales(gain.geometric_mean(self.lmbdas))

  @property
  def latent_gains(self):
    """The (gain, inverse gain) units around the latent's quantizer."""
    raise NotImplementedError

  def set_lambda_scales(self, reference_lmbda):
    """Scales that move a model trained at `reference_lmbda` to each lambda:
    by default, `latent_gains` at sqrt(lambda_s / reference) and 1 / that."""
    forward, inverse = self.latent_gains
    forward.set_lambda_gains(self.lmbdas, reference_lmbda)
    inverse.set_lambda_gains(self.lmbdas, reference_lmbda, inverse=True)

  def start_from_baseline(self, baseline_config):
    if self.lambda_init:
      self.set_lambda_scales(baseline_config["lmbda"])


def weights_digest(arrays):
  """8-byte SHA-256 prefix of weight arrays (as float32, in the given order);
  files carry it, so a file is decoded only by the weights that wrote it."""
  sha = hashlib.sha256()
  for array in arrays:
    sha.update(np.ascontiguousarray(array, np.float32).tobytes())
  return sha.digest()[:8]


def psnr_from_mse(mse):
  """PSNR in dB of an MSE on the 0..255 scale (capped for mse -> 0)."""
  return 10. * tf.math.log(255. ** 2 / tf.maximum(mse, 1e-10)) / tf.math.log(
      10.)


def to_uint8(x):
  return tf.saturate_cast(tf.round(x), tf.uint8)
