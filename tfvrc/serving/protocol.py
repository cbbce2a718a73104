"""What the two halves of serving agree on, in a module of its own so a
client imports no model code: the protocol version, signature names and the
layout of a frozen serving model."""

PROTOCOL = 1  # what `describe` checks: bump when the signatures change

# A frozen serving model (`signatures.freeze`, `backends.Frozen`): one
# GraphDef per signature, NAME.pb, and this index of their input and output
# tensors.
FROZEN_INDEX = "signatures.json"


_ONLY_OUTPUTS = {"synthesize": "image", "indexes": "indexes", "hyper": "phi",
                 "step": "pmfs"}


def only_output(signature):
  """The output of a signature that has one (TF Serving's REST API answers
  those with the bare value)."""
  return _ONLY_OUTPUTS[signature.split("_")[0]]


def synthesize_name(layers, max_layers):
  return "synthesize" if max_layers == 1 else f"synthesize_{layers}"
