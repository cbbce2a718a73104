"""The latent's conditional entropy models, chosen by name."""

from tfvrc.entropy.asymmetric import AsymmetricConditional
from tfvrc.entropy.gaussian import GaussianConditional

CONDITIONALS = {"gaussian": GaussianConditional,
                "asymmetric": AsymmetricConditional}


def conditional(name):
  """The conditional entropy model class called `name`."""
  if name not in CONDITIONALS:
    raise ValueError(f"unknown entropy model {name!r}; known: "
                     f"{', '.join(sorted(CONDITIONALS))}")
  return CONDITIONALS[name]
