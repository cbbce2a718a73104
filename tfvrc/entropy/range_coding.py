"""Range coding with a table per symbol, through the `range-coder` package
(the coder Cheng et al. and Fu et al. used), behind guards for what the
package gets wrong silently: a negative symbol is accepted, more than 1024
symbols encode but do not decode, a total of 2^25 hangs the encoder. Tables
here total at most 2^16 and hold at most MAX_SYMBOLS symbols, and symbols are
checked against them before coding.

The package reads and writes files only, so each coder works on a file in a
private temporary folder.
"""

import os
import tempfile

import numpy as np
import range_coder

MAX_SYMBOLS = 1024
MAX_TOTAL = 1 << 16


class PayloadError(ValueError):
  """A payload that does not decode (corrupt, truncated or foreign)."""


def check_tables(cdfs):
  """Refuses tables the package would mis-code."""
  cdfs = np.asarray(cdfs)
  if cdfs.ndim != 2 or not 2 <= cdfs.shape[1] <= MAX_SYMBOLS + 1:
    raise ValueError(f"tables must be [n, L + 1] with 1 <= L <= "
                     f"{MAX_SYMBOLS}, got {cdfs.shape}")
  if np.any(cdfs[:, 0] != 0) or np.any(np.diff(cdfs, axis=1) < 0) or np.any(
      cdfs[:, -1] > MAX_TOTAL):
    raise ValueError(f"tables must start at 0, not decrease and total at "
                     f"most {MAX_TOTAL}")
  return cdfs


class _TempFile:
  """A path in a private temporary folder, removed on `close`."""

  def __init__(self):
    self._folder = tempfile.TemporaryDirectory(prefix="tfvrc-")
    self.path = os.path.join(self._folder.name, "stream")

  def close(self):
    self._folder.cleanup()


class Encoder:
  """Codes batches of symbols, each with its own table; `finish` returns the
  bytes."""

  def __init__(self):
    self._file = _TempFile()
    self._coder = range_coder.RangeEncoder(self._file.path)

  def encode(self, symbols, cdfs):
    """symbols [n] ints; cdfs [n, L + 1] cumulative frequencies."""
    cdfs = check_tables(cdfs)
    symbols = np.asarray(symbols, np.int64).reshape(-1)
    rows = np.arange(len(symbols))
    if len(symbols) != len(cdfs) or np.any(symbols < 0) or np.any(
        symbols >= cdfs.shape[1] - 1) or np.any(
            cdfs[rows, symbols + 1] == cdfs[rows, symbols]):
      raise ValueError("a symbol is outside its table or has zero frequency")
    for symbol, table in zip(symbols.tolist(), cdfs.tolist()):
      self._coder.encode([symbol], table)

  def finish(self):
    self._coder.close()
    with open(self._file.path, "rb") as f:
      data = f.read()
    self._file.close()
    return data


class Decoder:
  """Decodes what an `Encoder` wrote, given the same tables in the same
  order. Past the end of the data it reads padding, so a truncated stream
  decodes to wrong symbols (callers check a CRC), never hangs."""

  def __init__(self, data):
    self._file = _TempFile()
    with open(self._file.path, "wb") as f:
      f.write(bytes(data))
    self._coder = range_coder.RangeDecoder(self._file.path)

  def decode(self, cdfs):
    """The symbols [n] of n tables [n, L + 1]."""
    cdfs = check_tables(cdfs)
    return np.array([self._coder.decode(1, table)[0]
                     for table in cdfs.tolist()], np.int64)

  def close(self):
    self._coder.close()
    self._file.close()
