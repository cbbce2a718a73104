"""Whether this CPU computes bfloat16 in hardware.

Without AVX512-BF16 or AMX-BF16, oneDNN emulates bfloat16 and a bfloat16
training step runs many times slower than a float32 one
(experiments/speed/README.md has the measurement), so asking for bfloat16
there earns a warning.
"""

# Where Linux lists the CPU's features.
CPUINFO = "/proc/cpuinfo"
# x86 feature flags that give oneDNN bfloat16 kernels.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def feature_flags(path=None):
  """The first CPU's feature flags in `path` (default `CPUINFO`), or None
  where they cannot be read (not Linux, not x86)."""
  try:
    with open(path or CPUINFO) as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "flags":
          return set(value.split())
  except OSError:
    return None
  return None


def bfloat16_warning(path=None):
  """A sentence saying bfloat16 will be slow on this CPU, or None (it has
  bfloat16 units, or its features are unknown)."""
  flags = feature_flags(path)
  if flags is None or flags & set(BFLOAT16_FLAGS):
    return None
  return (f"this CPU has none of {', '.join(BFLOAT16_FLAGS)}: bfloat16 is "
          "emulated here and runs several times slower than float32")
