"""A hyperprior with a checkerboard context (He et al., CVPR 2021).

The latent's positions split like a checkerboard: the anchors ((row +
column) even) are coded first, under the hyperprior's parameters alone; the
other half's parameters then also see the decoded anchors around each
position (the context: a 5x5 "same" convolution of the latent with the
non-anchors zeroed). Two passes, each parallel, instead of a raster-scan
context's one step per position (Minnen et al. 2018).

He et al. compute both halves' parameters with one entropy-parameter network
on [hyper features, context]. Here the anchors keep the hyper-synthesis's
parameters and the others add a correction, `refine([parameters,
context])`, whose last layer starts at zero: a model with the context
starts as exactly the hyperprior model it is initialised from
(`zoo.init_from`), so a trained model can be fine-tuned into one with a
context instead of trained again from scratch.

Strings: (the non-anchors', the anchors', then the side codec's); a decoder
reads them last to first, so it has the anchors before the rest. Each half
is coded as one row of its positions, [1, 1, n, channels]; coding is for
one image at a time. Coding runs the context and the correction in fixed
point, like the hyper-synthesis (`layers.fixed_point`), so a file decodes to
the same tables on every machine.
"""

import tensorflow as tf

from tfvrc.latent_codecs import hyperprior
from tfvrc.layers import fixed_point as fixed_point_lib
from tfvrc.layers import transforms

CONTEXT_SIZE = 5


def anchor_mask(shape):
  """[1, height, width, 1] bool: True at the anchors of a latent of spatial
  `shape`."""
  rows = tf.range(shape[0])[:, None]
  columns = tf.range(shape[1])[None, :]
  return tf.equal((rows + columns) % 2, 0)[None, :, :, None]


def _positions(shape, anchors):
  """[n, 2] (row, column) of the anchors (or of the others)."""
  mask = anchor_mask(shape)[0, :, :, 0]
  return tf.where(mask if anchors else tf.logical_not(mask))


def half(x, shape, anchors):
  """x [1, height, width, C] at the anchors (or the others): [1, 1, n, C]."""
  return tf.gather_nd(x[0], _positions(shape, anchors))[None, None]


def merge(shape, anchor_values, other_values=None):
  """Inverse of `half`: [1, height, width, C] from the anchors' values and
  the others' (zeros without them)."""
  full_shape = tf.cast(tf.concat([shape, tf.shape(anchor_values)[-1:]], 0),
                       tf.int64)
  merged = tf.scatter_nd(_positions(shape, True), anchor_values[0, 0],
                         full_shape)
  if other_values is not None:
    merged += tf.scatter_nd(_positions(shape, False), other_values[0, 0],
                            full_shape)
  return merged[None]


def _pointwise(filters, name, activation, initializer="glorot_uniform"):
  """A 1x1 convolution ("same", as `layers.fixed_point` takes it)."""
  return tf.keras.layers.Conv2D(filters, 1, padding="same",
                                activation=activation,
                                kernel_initializer=initializer, name=name,
                                dtype="float32")


class CheckerboardCodec(hyperprior.HyperpriorCodec):
  """`HyperpriorCodec` plus a checkerboard context for y's second half."""

  def __init__(self, hyper_analysis, hyper_synthesis, side, conditional,
               latent_depth, name="checkerboard"):
    super().__init__(hyper_analysis, hyper_synthesis, side, conditional,
                     name=name)
    self.num_strings = 2 + side.num_strings
    num_params = conditional.num_params * latent_depth
    self.context = tf.keras.Sequential([tf.keras.layers.Conv2D(
        latent_depth, CONTEXT_SIZE, padding="same", name="context_0",
        dtype="float32")], name="context")
    self.refine = tf.keras.Sequential([
        _pointwise(num_params, f"refine_{i}", transforms.leaky_relu)
        for i in range(2)] + [
        _pointwise(num_params, "refine_2", None, initializer="zeros")
    ], name="refine")
    self._fixed_point_context = None  # `build_coders` decides

  def build_context(self):
    """Creates the context's and the correction's variables."""
    latent_depth = self.context.layers[0].filters
    num_params = self.refine.layers[-1].filters
    self.context.build((None, None, None, latent_depth))
    self.refine.build((None, None, None, num_params + latent_depth))

  def correction(self, params, anchors_hat):
    """What the non-anchors add to their parameters, from the anchors'
    values `anchors_hat` (zero elsewhere): the float networks."""
    return self.refine(tf.concat([params, self.context(anchors_hat)], -1))

  def _coding_correction(self, params, anchors_hat):
    """`correction` as both coding sides compute it (see `build_coders`)."""
    if self._fixed_point_context is None:
      return self.correction(params, anchors_hat)
    context, refine = self._fixed_point_context
    units = tf.concat([fixed_point_lib.to_units(params),
                       context.units(fixed_point_lib.to_units(anchors_hat))],
                      -1)
    return fixed_point_lib.to_float32(refine.units(units))

  @staticmethod
  def _refined(params, correction, mask):
    return tf.where(mask, params, params + correction)

  def forward(self, y, rate, training):
    """Training and estimates: the anchors' values (noisy, or rounded with
    `rounded_synthesis_input`) make the context; the second call's bits are
    every position's, the anchors' under unchanged parameters."""
    z_hat, side_bits = self.side.forward(self.hyper_analysis(y), rate,
                                         training)
    params = self.parameters(z_hat, tf.shape(y)[1:3])
    conditional = self.conditional(compression=False)
    mask = anchor_mask(tf.shape(y)[1:3])
    anchors_hat, _ = conditional(y, params, training=training,
                                 rounded=self.rounded_synthesis_input)
    anchors_hat = tf.where(mask, anchors_hat, 0.)
    params = self._refined(params, self.correction(params, anchors_hat), mask)
    y_hat, bits = conditional(y, params, training=training,
                              rounded=self.rounded_synthesis_input)
    return tf.where(mask, anchors_hat, y_hat), bits + side_bits

  def _with_context(self, params, anchor_symbols, shape):
    """The coding parameters of every position, from the hyper-synthesis's
    and the anchors' symbols ([1, height, width, C], others ignored)."""
    mask = anchor_mask(shape)
    anchors_hat = tf.where(mask, self.coder.values(anchor_symbols, params),
                           0.)
    return self._refined(params, self._coding_correction(params, anchors_hat),
                         mask)

  def _encoder_parameters(self, y, z_hat):
    """The coding parameters of all of y: its anchors' symbols under the
    hyper-synthesis's parameters make the context."""
    shape = tf.shape(y)[1:3]
    params = self._coding_parameters(z_hat, shape)
    return self._with_context(params, self.coder.symbols(y, params)[0], shape)

  def quantized_forward(self, y, rate):
    z_hat, side_bits = self.side.quantized_forward(self.hyper_analysis(y),
                                                   rate)
    y_hat, bits = self.coder(y, self._encoder_parameters(y, z_hat),
                             training=False)
    return y_hat, bits + side_bits

  def symbols(self, y, rate):
    side_coded, z_hat = self.side.symbols(self.hyper_analysis(y), rate)
    shape = tf.shape(y)[1:3]
    params = self._encoder_parameters(y, z_hat)
    symbols, indexes = self.coder.symbols(y, params)
    coded = tuple((half(symbols, shape, anchors), half(indexes, shape, anchors))
                  for anchors in (False, True))
    return (*coded, *side_coded), self.coder.values(symbols, params)

  def decode_indexes(self, known, shape, rate):
    side_strings = self.side.num_strings
    if len(known) < side_strings:
      return self.side.decode_indexes(
          known, hyperprior.latent_shape(shape, hyperprior.SIDE_FACTOR), rate)
    params = self._parameters_from_side(known[-side_strings:], shape, rate)
    if len(known) == side_strings:
      return half(self.coder.indexes(params), shape, anchors=True)
    params = self._with_context(params, merge(shape, known[0]), shape)
    return half(self.coder.indexes(params), shape, anchors=False)

  def dequantize(self, symbols, shape, rate):
    others, anchors, *side_symbols = symbols
    params = self._parameters_from_side(side_symbols, shape, rate)
    params = self._with_context(params, merge(shape, anchors), shape)
    return self.coder.values(merge(shape, anchors, others), params)

  def cdf_tables(self):
    return (self.coder.cdf_table, *super().cdf_tables())

  def build_coders(self, tables=None, fixed_point=True):
    super().build_coders(tables, fixed_point)
    self._fixed_point_context = (
        (fixed_point_lib.FixedPointSequential(self.context),
         fixed_point_lib.FixedPointSequential(self.refine))
        if fixed_point else None)
