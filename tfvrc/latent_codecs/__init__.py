"""How a latent is coded, as layers that nest (after CompressAI's
`latent_codecs`): a model is analysis -> latent codec -> synthesis.

Every latent codec has the same face (`base.LatentCodec`): `forward` for
training and estimates, `quantized_forward` for what the coder realises,
`compress` / `decompress` for real strings, and `build_coders` /
`coder_tables` for the range-coding tables.
"""

from tfvrc.latent_codecs.base import LatentCodec
from tfvrc.latent_codecs.base import unwrapped
from tfvrc.latent_codecs.checkerboard import CheckerboardCodec
from tfvrc.latent_codecs.context import ContextCodec
from tfvrc.latent_codecs.entropy_bottleneck import EntropyBottleneck
from tfvrc.latent_codecs.gain import GainCodec
from tfvrc.latent_codecs.hyperprior import HyperpriorCodec
from tfvrc.latent_codecs.per_rate import PerRateCodec
