"""`python -m tfvrc` is the `tfvrc` command."""

from tfvrc import cli

cli.run()
