"""analysis -> latent codec -> synthesis: the coding steps of every VAE-style
family, written once."""

from tfvrc.latent_codecs import hyperprior
from tfvrc.models import base
from tfvrc.models import tiling

# The analysis transforms' downsampling: y has 16x fewer samples per side.
LATENT_FACTOR = 16
# Context each tile gets when coding: at least each transform's reach (four
# 5x5 stride-2 layers: 30 pixels in analysis, under 4 latent samples in
# synthesis), in pixels.
TILE_MARGIN = 64


class VAE(base.CompressionModel):
  """A compressor made of `analysis_transform`, `latent_codec` and
  `synthesis_transform`, which subclasses set. The `analysis` and `synthesis`
  hooks take the rate, for families whose transforms depend on it.

  Coding runs the transforms in tiles of `tile_size` pixels (`tiling`);
  training and estimates run them in one pass."""

  tile_size = 1024
  tile_margin = TILE_MARGIN  # pixels of context per tile side

  def analysis(self, x, rate):
    del rate
    return self.analysis_transform(x)

  def synthesis(self, y_hat, rate):
    del rate
    return self.synthesis_transform(y_hat)

  def forward(self, x, rate, training):
    y_hat, bits = self.latent_codec.forward(self.analysis(x, rate), rate,
                                            training)
    return self.synthesis(y_hat, rate), bits

  def quantized_forward(self, x, rate):
    y_hat, bits = self.latent_codec.quantized_forward(self.analysis(x, rate),
                                                      rate)
    return self.synthesis(y_hat, rate), bits

  def _tiled_analysis(self, x, rate):
    return tiling.tiled(lambda x: self.analysis(x, rate), x, self.tile_size,
                        self.tile_margin, self.latent_depth,
                        down=LATENT_FACTOR)

  def _tiled_synthesis(self, y_hat, rate):
    return tiling.tiled(lambda y: self.synthesis(y, rate), y_hat,
                        self.tile_size // LATENT_FACTOR,
                        self.tile_margin // LATENT_FACTOR, 3,
                        up=LATENT_FACTOR)

  def encode(self, x, rate):
    strings, _ = self.latent_codec.compress(self._tiled_analysis(x, rate),
                                            rate)
    return strings

  def decode(self, shape, rate, strings):
    y_hat = self.latent_codec.decompress(
        strings, hyperprior.latent_shape(shape, LATENT_FACTOR), rate)
    return self._tiled_synthesis(y_hat, rate)

  # --- Coding as integers, for serving (see base.CompressionModel) --------

  serving_split = True

  def analyze(self, x, rate):
    coded, _ = self.latent_codec.symbols(self._tiled_analysis(x, rate), rate)
    return coded

  def decode_order(self):
    return tuple(reversed(range(self.num_strings)))

  def decode_indexes(self, k, known, shape, rate):
    return self.latent_codec.decode_indexes(
        tuple(known[j] for j in range(k + 1, self.num_strings)),
        hyperprior.latent_shape(shape, LATENT_FACTOR), rate)

  def synthesize(self, symbols, shape, rate):
    y_hat = self.latent_codec.dequantize(
        symbols, hyperprior.latent_shape(shape, LATENT_FACTOR), rate)
    return self._tiled_synthesis(y_hat, rate)

  def cdf_tables(self):
    return self.latent_codec.cdf_tables()

  @property
  def format_versions(self):
    return self.latent_codec.format_versions

  def build_coders(self, tables=None, fixed_point=True):
    self.latent_codec.build_coders(tables, fixed_point)

  def coder_tables(self):
    return self.latent_codec.coder_tables()
