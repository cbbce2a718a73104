"""What this CPU is (Linux's /proc/cpuinfo), and whether it computes
bfloat16 in hardware.

Without AVX512-BF16 or AMX-BF16, oneDNN emulates bfloat16 and a bfloat16
training step runs many times slower than a float32 one
(experiments/speed/README.md has the measurement), so asking for bfloat16
there earns a warning.
"""

# Where Linux lists the CPU's features.
CPUINFO = "/proc/cpuinfo"
# x86 feature flags that give oneDNN bfloat16 kernels.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def field(key, path=None):
  """The first CPU's `key` entry in `path` (default `CPUINFO`), e.g. "flags"
  or "model name", or None where it cannot be read (not Linux, not listed)."""
  try:
    with open(path or CPUINFO, encoding="utf-8") as f:
      for line in f:
        name, _, value = line.partition(":")
        if name.strip() == key:
          return value.strip()
  except OSError:
    return None
  return None


def feature_flags(path=None):
  """The first CPU's feature flags, or None where they cannot be read (not
  Linux, not x86)."""
  flags = field("flags", path)
  return None if flags is None else set(flags.split())


def bfloat16_warning(path=None):
  """A sentence saying bfloat16 will be slow on this CPU, or None (it has
  bfloat16 units, or its features are unknown)."""
  flags = feature_flags(path)
  if flags is None or flags & set(BFLOAT16_FLAGS):
    return None
  return (f"this CPU has none of {', '.join(BFLOAT16_FLAGS)}: bfloat16 is "
          "emulated here and runs several times slower than float32")
