"""Model families by name: `create("hyperprior", lmbda=0.01)`."""

import inspect

from tfvrc.models.asymmetric_msrb import AsymmetricMSRB
from tfvrc.models.asymmetric_msrb import GainedAsymmetricMSRB
from tfvrc.models.gained import GainedHyperprior
from tfvrc.models.hyperprior import MeanScaleHyperprior
from tfvrc.models.modulated import ModulatedFactorized
from tfvrc.models.modulated import ModulatedHyperprior
from tfvrc.models.modulated import ScaledBottleneck
from tfvrc.models.scalable_rnn import ScalableRNN

FAMILIES = {cls.family: cls for cls in (
    MeanScaleHyperprior, GainedHyperprior, ModulatedHyperprior,
    ModulatedFactorized, ScaledBottleneck, ScalableRNN, AsymmetricMSRB,
    GainedAsymmetricMSRB)}


def config_keys(family):
  """The configuration keys (constructor arguments) `family` takes."""
  if family not in FAMILIES:
    raise ValueError(f"unknown model family {family!r}; "
                     f"known: {', '.join(sorted(FAMILIES))}")
  parameters = inspect.signature(FAMILIES[family].__init__).parameters
  return sorted(k for k in parameters if k not in ("self", "name"))


def create(family, **config):
  """Builds a model of `family`; a key that does not apply to it is an
  error naming it."""
  keys = config_keys(family)
  unknown = sorted(set(config) - set(keys))
  if unknown:
    raise ValueError(f"{', '.join(unknown)} does not apply to the {family} "
                     f"family (it takes {', '.join(keys)})")
  return FAMILIES[family](**config)
