"""Model families by name: `create("hyperprior", lmbda=0.01)`."""

import inspect

from tfvrc.models.gained import GainedHyperprior
from tfvrc.models.hyperprior import MeanScaleHyperprior
from tfvrc.models.modulated import ModulatedFactorized
from tfvrc.models.modulated import ModulatedHyperprior
from tfvrc.models.modulated import ScaledBottleneck

FAMILIES = {cls.family: cls for cls in (
    MeanScaleHyperprior, GainedHyperprior, ModulatedHyperprior,
    ModulatedFactorized, ScaledBottleneck)}


def create(family, **config):
  """Builds a model of `family`; keys its constructor does not take are ignored."""
  if family not in FAMILIES:
    raise ValueError(f"unknown model family {family!r}; "
                     f"known: {', '.join(sorted(FAMILIES))}")
  cls = FAMILIES[family]
  accepted = inspect.signature(cls.__init__).parameters
  return cls(**{k: v for k, v in config.items() if k in accepted})
