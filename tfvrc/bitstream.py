"""The versioned container every tfvrc compressed file uses.

A file names the model (and a digest of its weights) that wrote it, so decoding
with any other model fails loudly instead of producing garbage. Layout, all
big-endian:

  magic "TFVR" | version u8 | name length u8 | name (UTF-8) | weights digest (8)
  | rate float32 | height u16 | width u16 | num_layers u16 | num_strings u16
  | num_strings x (length u32 | bytes) | CRC32 u32 of everything before it

No TensorFlow here: this module must stay fast to import and usable anywhere.
"""

import dataclasses
import math
import numbers
import struct
from typing import Sequence
import zlib

import numpy as np

MAGIC = b"TFVR"
FORMAT_VERSION = 1

DIGEST_SIZE = 8
MAX_NAME_BYTES = 0xFF
MAX_DIMENSION = 0xFFFF
MAX_LAYERS = 0xFFFF
MAX_STRINGS = 0xFFFF
MAX_STRING_BYTES = 0xFFFFFFFF

_PREFIX = struct.Struct(">4sBB")  # magic, version, name length
_FIELDS = struct.Struct(f">{DIGEST_SIZE}sfHHHH")  # digest ... num_strings
_U32 = struct.Struct(">I")  # a string length, or the CRC32
_MIN_SIZE = _PREFIX.size + 1 + _FIELDS.size + _U32.size


class BitstreamError(ValueError):
  """The data is not a valid tfvrc bitstream, or not for this model."""


@dataclasses.dataclass(frozen=True)
class Header:
  """What a decoder needs besides the strings."""
  model_name: str
  weights_digest: bytes
  rate: float
  height: int
  width: int
  num_layers: int


def pack(header: Header, strings: Sequence[bytes]) -> bytes:
  """Serializes `header` and `strings`; ValueError if either is invalid."""
  name = _encoded_name(header.model_name)
  rate = _float32_rate(header.rate)
  if (not isinstance(header.weights_digest, bytes)
      or len(header.weights_digest) != DIGEST_SIZE):
    raise ValueError(f"weights_digest must be {DIGEST_SIZE} bytes, "
                     f"got {header.weights_digest!r}")
  _check_count("height", header.height, 1, MAX_DIMENSION)
  _check_count("width", header.width, 1, MAX_DIMENSION)
  _check_count("num_layers", header.num_layers, 1, MAX_LAYERS)
  _check_count("number of strings", len(strings), 0, MAX_STRINGS)
  parts = [
      _PREFIX.pack(MAGIC, FORMAT_VERSION, len(name)), name,
      _FIELDS.pack(header.weights_digest, rate, header.height, header.width,
                   header.num_layers, len(strings))]
  for index, string in enumerate(strings):
    if not isinstance(string, (bytes, bytearray, memoryview)):
      raise ValueError(f"string {index} must be bytes, "
                       f"got {type(string).__name__}")
    payload = bytes(string)
    _check_count(f"length of string {index}", len(payload), 0,
                 MAX_STRING_BYTES)
    parts += [_U32.pack(len(payload)), payload]
  body = b"".join(parts)
  return body + _U32.pack(zlib.crc32(body))


def unpack(data) -> tuple[Header, list[bytes]]:
  """Parses `pack` output (bytes, bytearray or memoryview).

  Raises BitstreamError saying what is wrong. Every length is checked against
  the bytes present before anything is sliced, and the checksum is verified
  before any field is trusted.
  """
  if not isinstance(data, (bytes, bytearray, memoryview)):
    raise TypeError(f"expected bytes, got {type(data).__name__}")
  data = bytes(data)
  if data[:len(MAGIC)] != MAGIC[:len(data)]:
    raise BitstreamError("not a tfvrc bitstream (bad magic)")
  if len(data) > len(MAGIC) and data[len(MAGIC)] != FORMAT_VERSION:
    raise BitstreamError(f"unsupported format version {data[len(MAGIC)]} "
                         f"(this tfvrc reads {FORMAT_VERSION})")
  if len(data) < _MIN_SIZE:
    raise BitstreamError(f"truncated: {len(data)} bytes, but a tfvrc "
                         f"bitstream has at least {_MIN_SIZE}")

  payload_end = len(data) - _U32.size  # where the CRC must start
  _, _, name_size = _PREFIX.unpack_from(data)
  name_start = _PREFIX.size
  fields_start = name_start + name_size
  if fields_start + _FIELDS.size > payload_end:
    raise BitstreamError(f"truncated: the header ({fields_start + _FIELDS.size}"
                         f" bytes) runs past the end of the data")
  digest, rate, height, width, num_layers, num_strings = _FIELDS.unpack_from(
      data, fields_start)
  offset = fields_start + _FIELDS.size
  if num_strings * _U32.size > payload_end - offset:
    raise BitstreamError(f"truncated: {num_strings} strings declared, but only "
                         f"{payload_end - offset} bytes remain")
  spans = []
  for index in range(num_strings):
    if offset + _U32.size > payload_end:
      raise BitstreamError(f"truncated: the length of string {index} of "
                           f"{num_strings} runs past the end of the data")
    (size,) = _U32.unpack_from(data, offset)
    offset += _U32.size
    if size > payload_end - offset:
      raise BitstreamError(
          f"truncated: string {index} of {num_strings} declares {size} bytes, "
          f"but only {payload_end - offset} remain")
    spans.append((offset, offset + size))
    offset += size

  # Bytes appended to an intact stream leave its CRC right after the payloads;
  # otherwise a short walk means a damaged length field.
  if offset < payload_end and _checksum_matches(data, offset):
    raise BitstreamError(f"{payload_end - offset} unexpected bytes after the "
                         f"last payload")
  if offset < payload_end or not _checksum_matches(data, offset):
    raise BitstreamError("checksum mismatch: the file is corrupt")

  if name_size == 0:
    raise BitstreamError("the model name is empty")
  try:
    model_name = data[name_start:fields_start].decode("utf-8")
  except UnicodeDecodeError as error:
    raise BitstreamError(
        f"the model name is not valid UTF-8 ({error})") from None
  if not math.isfinite(rate):
    raise BitstreamError(f"the rate is {rate}, not a finite number")
  if height == 0 or width == 0:
    raise BitstreamError(f"the image is {height}x{width}; height and width "
                         f"must be at least 1")
  if num_layers == 0:
    raise BitstreamError("num_layers is 0")
  header = Header(model_name, digest, rate, height, width, num_layers)
  return header, [data[start:end] for start, end in spans]


def check_model(header: Header, model_name: str, weights_digest: bytes) -> None:
  """Raises BitstreamError unless `header` was written by exactly this model."""
  if (header.model_name, header.weights_digest) != (model_name, weights_digest):
    raise BitstreamError(
        f"written by model {header.model_name!r} (digest "
        f"{header.weights_digest.hex()}), not by {model_name!r} (digest "
        f"{weights_digest.hex()})")


def _encoded_name(model_name):
  if not isinstance(model_name, str):
    raise ValueError(f"model_name must be a str, got {model_name!r}")
  name = model_name.encode("utf-8")
  if not 1 <= len(name) <= MAX_NAME_BYTES:
    raise ValueError(f"model_name must be 1..{MAX_NAME_BYTES} bytes of UTF-8, "
                     f"got {len(name)}")
  return name


def _float32_rate(rate):
  """The rate as the float32 the models code with; it must stay finite."""
  if not isinstance(rate, numbers.Real):
    raise ValueError(f"rate must be a real number, got {rate!r}")
  with np.errstate(over="ignore"):
    rate32 = np.float32(rate)
  if not np.isfinite(rate32):
    raise ValueError(f"rate must be finite in float32, got {rate!r}")
  return float(rate32)


def _check_count(what, value, lowest, highest):
  if not isinstance(value, numbers.Integral) or not lowest <= value <= highest:
    raise ValueError(f"{what} must be an integer in {lowest}..{highest}, "
                     f"got {value!r}")


def _checksum_matches(data, end):
  """Whether the CRC32 stored at `end` covers `data[:end]`."""
  (stored,) = _U32.unpack_from(data, end)
  return stored == zlib.crc32(data[:end])
