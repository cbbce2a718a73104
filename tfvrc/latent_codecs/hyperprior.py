"""The hyperprior (Ballé et al. 2018, Minnen et al. 2018), written once.

y's conditional entropy model takes its parameters from a hyper-synthesis of
a side latent z = hyper_analysis(y), which its own codec (`side`) codes first.
Strings: (y's, then the side codec's). Coding takes the parameters from the
fixed-point twin of the hyper-synthesis (`layers.fixed_point`), so a file
decodes to the same tables on every machine; so does `quantized_forward`,
which must give what coding gives. Training uses the float network.
"""

import tensorflow as tf

from tfvrc import bitstream
from tfvrc.latent_codecs import base
from tfvrc.layers import fixed_point as fixed_point_lib

# z has 4x fewer samples per side than y (two stride-2 hyper layers).
SIDE_FACTOR = 4


def latent_shape(shape, factor):
  """Spatial shape of a latent `factor` times smaller (ceil division)."""
  return -(-shape // factor)


class HyperpriorCodec(base.LatentCodec):
  """y coded under `conditional` (an `entropy` class taking the
  hyper-synthesis output as parameters), z by the `side` latent codec."""

  # Training: the synthesis gets y rounded (straight-through) instead of
  # y plus noise; `IndexedConditional.__call__` says why.
  rounded_synthesis_input = False

  def __init__(self, hyper_analysis, hyper_synthesis, side, conditional,
               name="hyperprior"):
    super().__init__(name=name)
    self.hyper_analysis = hyper_analysis
    self.hyper_synthesis = hyper_synthesis
    self.side = side
    self.conditional = conditional
    self.num_strings = 1 + side.num_strings
    self._fixed_point_synthesis = None  # `build_coders` decides

  def parameters(self, z_hat, y_shape, synthesis=None):
    """The conditional's parameters, cropped to the latent's shape, from
    `synthesis` (default: the float hyper-synthesis)."""
    params = (synthesis or self.hyper_synthesis)(z_hat)
    return params[:, :y_shape[0], :y_shape[1], :]

  def _coding_parameters(self, z_hat, y_shape):
    """The parameters both coding sides use (`build_coders` chose how)."""
    return self.parameters(z_hat, y_shape, self._fixed_point_synthesis)

  @property
  def format_versions(self):
    return (bitstream.FLOAT_TABLE_VERSIONS
            if self._fixed_point_synthesis is None
            else bitstream.FIXED_POINT_VERSIONS)

  def forward(self, y, rate, training):
    z_hat, side_bits = self.side.forward(self.hyper_analysis(y), rate,
                                         training)
    params = self.parameters(z_hat, tf.shape(y)[1:3])
    y_hat, bits = self.conditional(compression=False)(
        y, params, training=training, rounded=self.rounded_synthesis_input)
    return y_hat, bits + side_bits

  def quantized_forward(self, y, rate):
    z_hat, side_bits = self.side.quantized_forward(self.hyper_analysis(y),
                                                   rate)
    params = self._coding_parameters(z_hat, tf.shape(y)[1:3])
    y_hat, bits = self.coder(y, params, training=False)
    return y_hat, bits + side_bits

  def symbols(self, y, rate):
    side_coded, z_hat = self.side.symbols(self.hyper_analysis(y), rate)
    params = self._coding_parameters(z_hat, tf.shape(y)[1:3])
    coded = self.coder.symbols(y, params)
    return (coded, *side_coded), self.coder.values(coded[0], params)

  def _parameters_from_side(self, side_symbols, shape, rate):
    """y's coding parameters from the side codec's symbols."""
    z_hat = self.side.dequantize(side_symbols,
                                 latent_shape(shape, SIDE_FACTOR), rate)
    return self._coding_parameters(z_hat, shape)

  def decode_indexes(self, known, shape, rate):
    if len(known) < self.side.num_strings:
      return self.side.decode_indexes(
          known, latent_shape(shape, SIDE_FACTOR), rate)
    return self.coder.indexes(self._parameters_from_side(known, shape, rate))

  def dequantize(self, symbols, shape, rate):
    return self.coder.values(
        symbols[0], self._parameters_from_side(symbols[1:], shape, rate))

  def cdf_tables(self):
    return (self.coder.cdf_table, *self.side.cdf_tables())

  def build_coders(self, tables=None, fixed_point=True):
    self.coder = self.conditional(compression=True)
    self.side.build_coders(tables, fixed_point)
    self._fixed_point_synthesis = (
        fixed_point_lib.FixedPointSequential(self.hyper_synthesis)
        if fixed_point else None)

  def coder_tables(self):
    return self.side.coder_tables()
