"""The versioned container every tfvrc compressed file uses.

A file names the model (and a digest of its weights) that wrote it, so decoding
with any other model fails loudly instead of producing garbage. `pack` writes
version 2 or 3; `unpack` reads versions 1 to 3. Layouts, all big-endian:

Version 3 is version 2's layout, and says how the decoder must compute the
entropy parameters: from the model's fixed-point hyper-synthesis
(`tfvrc.layers.fixed_point`), so the file decodes the same on every machine.
Versions 1 and 2 were written with the float network. A codec says which
versions it decodes (`format_versions`) and writes its newest.

Version 2, layered: the strings come in layers, each with its own checksum, so
a file can be cut after any layer (`truncate_layers`) and damage is pinned to
the header or to one layer.

  magic "TFVR" | version u8 (2 or 3) | name length u8 | name (UTF-8)
  | weights digest (8) | rate float32 | height u16 | width u16 | num_layers u16
  | CRC32 u32 of all the header bytes before it
  then num_layers layers, each:
  num_strings u16 | num_strings x (length u32 | bytes)
  | CRC32 u32 of the layer's bytes before it (from its num_strings on),
    started from the previous layer's CRC32 (0 for layer 1), so a layer
    moved to another place or file fails its check
  and nothing after the last layer.

Version 1, flat (read only): one list of strings and one checksum. It comes
back as a single layer; num_layers must be 1.

  magic "TFVR" | version u8 (1) | name length u8 | name (UTF-8)
  | weights digest (8) | rate float32 | height u16 | width u16 | num_layers u16
  | num_strings u16 | num_strings x (length u32 | bytes)
  | CRC32 u32 of everything before it

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
FORMAT_VERSION = 3  # the newest `pack` writes; `unpack` reads 1 too
WRITTEN_VERSIONS = (2, 3)  # they share a layout
# How a file's table indexes were computed: by float networks (versions 1
# and 2) or by fixed-point ones (3).
FLOAT_TABLE_VERSIONS = (1, 2)
FIXED_POINT_VERSIONS = (3,)

DIGEST_SIZE = 8
MAX_NAME_BYTES = 0xFF
MAX_DIMENSION = 0xFFFF
MAX_LAYERS = 0xFFFF
MAX_STRINGS = 0xFFFF
MAX_STRING_BYTES = 0xFFFFFFFF

_BYTES_LIKE = (bytes, bytearray, memoryview)
_PREFIX = struct.Struct(">4sBB")  # magic, version, name length
_FIELDS = struct.Struct(f">{DIGEST_SIZE}sfHHH")  # digest ... num_layers
_V1_FIELDS = struct.Struct(f">{DIGEST_SIZE}sfHHHH")  # ... num_strings
_U16 = struct.Struct(">H")  # a layer's number of strings
_U32 = struct.Struct(">I")  # a string length, or a CRC32
_MIN_SIZE = _PREFIX.size + 1 + _V1_FIELDS.size + _U32.size  # the smallest


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
  format_version: int = FORMAT_VERSION


def pack(header: Header, layers: Sequence[Sequence[bytes]]) -> bytes:
  """Serializes `header` and `layers` (each a sequence of strings) as the
  header's version (2 or 3); ValueError if either is invalid or their layer
  counts differ."""
  if (not isinstance(header.format_version, numbers.Integral)
      or header.format_version not in WRITTEN_VERSIONS):
    raise ValueError(f"format_version must be one of {WRITTEN_VERSIONS}, "
                     f"got {header.format_version!r}")
  name = _encoded_name(header.model_name)
  rate = _float32_rate(header.rate)
  if (not isinstance(header.weights_digest, bytes)
      or len(header.weights_digest) != DIGEST_SIZE):
    raise ValueError(f"weights_digest must be {DIGEST_SIZE} bytes, "
                     f"got {header.weights_digest!r}")
  _check_count("height", header.height, 1, MAX_DIMENSION)
  _check_count("width", header.width, 1, MAX_DIMENSION)
  _check_count("num_layers", header.num_layers, 1, MAX_LAYERS)
  if isinstance(layers, _BYTES_LIKE) or not isinstance(layers, Sequence):
    raise ValueError(f"layers must be a sequence of layers, "
                     f"got {type(layers).__name__}")
  if len(layers) != header.num_layers:
    raise ValueError(f"header.num_layers is {header.num_layers}, but "
                     f"{len(layers)} layers were given")
  head = b"".join([
      _PREFIX.pack(MAGIC, header.format_version, len(name)), name,
      _FIELDS.pack(header.weights_digest, rate, header.height, header.width,
                   header.num_layers)])
  parts = [head, _U32.pack(zlib.crc32(head))]
  crc = 0
  for number, layer in enumerate(layers, start=1):
    packed, crc = _packed_layer(number, layer, crc)
    parts.append(packed)
  return b"".join(parts)


def unpack(data) -> tuple[Header, list[list[bytes]]]:
  """Parses a version 1, 2 or 3 file (bytes, bytearray or memoryview) into its
  header and its layers, each a list of strings.

  Raises BitstreamError saying what is wrong. Every length is checked against
  the bytes present before anything is sliced, and a checksum is verified
  before the fields it covers are trusted.
  """
  if not isinstance(data, _BYTES_LIKE):
    raise TypeError(f"expected bytes, got {type(data).__name__}")
  data = bytes(data)
  if data[:len(MAGIC)] != MAGIC[:len(data)]:
    raise BitstreamError("not a tfvrc bitstream (bad magic)")
  if len(data) <= len(MAGIC):
    raise BitstreamError(f"truncated: {len(data)} bytes, but a tfvrc "
                         f"bitstream has at least {_MIN_SIZE}")
  version = data[len(MAGIC)]
  if version == 1:
    return _unpack_v1(data)
  if version in WRITTEN_VERSIONS:
    return _unpack_v2(data)
  raise BitstreamError(f"unsupported format version {version} "
                       f"(this tfvrc reads 1 to {FORMAT_VERSION})")


def truncate_layers(data, k: int) -> bytes:
  """A file holding only the first `k` layers of `data`, e.g. to send a
  coarser image; the layers' bytes are unchanged (a version 1 file becomes
  version 2, the same coding)."""
  header, layers = unpack(data)
  if (not isinstance(k, numbers.Integral) or isinstance(k, bool)
      or not 1 <= k <= len(layers)):
    plural = "" if len(layers) == 1 else "s"
    raise ValueError(f"k must be an integer in 1..{len(layers)}, got {k!r} "
                     f"(the file has {len(layers)} layer{plural})")
  # Re-packing is byte-exact: each checked layer encodes only one way.
  k = int(k)
  return pack(dataclasses.replace(
      header, num_layers=k, format_version=max(header.format_version, 2)),
              layers[:k])


def fixed_point_tables(header: Header) -> bool:
  """Whether the file's table indexes come from fixed-point networks."""
  return header.format_version in FIXED_POINT_VERSIONS


def check_model(header: Header, model_name: str, weights_digest: bytes) -> None:
  """Raises BitstreamError unless `header` was written by exactly this model."""
  if (header.model_name, header.weights_digest) != (model_name, weights_digest):
    raise BitstreamError(
        f"written by model {header.model_name!r} (digest "
        f"{header.weights_digest.hex()}), not by {model_name!r} (digest "
        f"{weights_digest.hex()})")


def _packed_layer(number, layer, previous_crc):
  """Layer `number` (from 1) as num_strings, the strings and its CRC32
  (chained from `previous_crc`), and that CRC32."""
  if isinstance(layer, _BYTES_LIKE) or not isinstance(layer, Sequence):
    raise ValueError(f"layer {number} must be a sequence of strings, "
                     f"got {type(layer).__name__}")
  _check_count(f"number of strings in layer {number}", len(layer), 0,
               MAX_STRINGS)
  parts = [_U16.pack(len(layer))]
  for index, string in enumerate(layer):
    if not isinstance(string, _BYTES_LIKE):
      raise ValueError(f"string {index} of layer {number} must be bytes, "
                       f"got {type(string).__name__}")
    payload = bytes(string)
    _check_count(f"length of string {index} of layer {number}", len(payload),
                 0, MAX_STRING_BYTES)
    parts += [_U32.pack(len(payload)), payload]
  body = b"".join(parts)
  crc = zlib.crc32(body, previous_crc)
  return body + _U32.pack(crc), crc


def _unpack_v2(data):
  """`unpack` for versions 2 and 3: the header, then each layer in turn."""
  header, offset = _v2_header(data)
  layers = []  # grows one checked layer at a time, never by num_layers
  crc = 0
  for number in range(1, header.num_layers + 1):
    strings, offset, crc = _v2_layer(data, offset, number, header.num_layers,
                                     crc)
    layers.append(strings)
  if offset < len(data):
    raise BitstreamError(f"{len(data) - offset} unexpected bytes after the "
                         f"last layer")
  return header, layers


def _v2_header(data):
  """The checked version 2 or 3 header, and the offset where its layers
  start."""
  if len(data) < _PREFIX.size:
    raise BitstreamError(f"truncated: the header runs past the end of the "
                         f"data ({len(data)} bytes)")
  _, version, name_size = _PREFIX.unpack_from(data)
  fields_start = _PREFIX.size + name_size
  crc_start = fields_start + _FIELDS.size
  if crc_start + _U32.size > len(data):
    raise BitstreamError(f"truncated: the header ({crc_start + _U32.size} "
                         f"bytes) runs past the end of the data "
                         f"({len(data)} bytes)")
  if not _checksum_matches(data, crc_start):
    raise BitstreamError("the header is corrupt (checksum mismatch)")
  fields = _FIELDS.unpack_from(data, fields_start)
  header = _checked_header(data[_PREFIX.size:fields_start], *fields,
                           version=version)
  return header, crc_start + _U32.size


def _v2_layer(data, offset, number, count, previous_crc):
  """The strings of layer `number` of `count` starting at `offset`, checked
  against its CRC32 (chained from `previous_crc`), the offset just past it
  and that CRC32."""
  def truncated(detail):
    return BitstreamError(f"truncated: the file ends inside layer {number} of "
                          f"{count} ({detail})")

  if offset == len(data):
    raise BitstreamError(f"truncated: the file ends before layer {number} of "
                         f"{count}")
  start = offset
  if offset + _U16.size > len(data):
    raise truncated("in its string count")
  (num_strings,) = _U16.unpack_from(data, offset)
  offset += _U16.size
  if (num_strings + 1) * _U32.size > len(data) - offset:
    raise truncated(f"{num_strings} strings declared, but only "
                    f"{len(data) - offset} bytes remain")
  spans = []
  for index in range(num_strings):
    if offset + _U32.size > len(data):
      raise truncated(f"in the length of string {index} of {num_strings}")
    (size,) = _U32.unpack_from(data, offset)
    offset += _U32.size
    if size > len(data) - offset:
      raise truncated(f"string {index} of {num_strings} declares {size} "
                      f"bytes, but only {len(data) - offset} remain")
    spans.append((offset, offset + size))
    offset += size
  if offset + _U32.size > len(data):
    raise truncated("in its checksum")
  (stored,) = _U32.unpack_from(data, offset)
  if stored != zlib.crc32(memoryview(data)[start:offset], previous_crc):
    raise BitstreamError(
        f"layer {number} of {count} is corrupt (checksum mismatch)"
        + ("" if number == 1 else
           ", or not the layer that follows layer " f"{number - 1}"))
  return ([data[begin:end] for begin, end in spans], offset + _U32.size,
          stored)


def _unpack_v1(data):
  """`unpack` for version 1: all the strings, as one layer."""
  if len(data) < _MIN_SIZE:
    raise BitstreamError(f"truncated: {len(data)} bytes, but a tfvrc "
                         f"bitstream has at least {_MIN_SIZE}")

  payload_end = len(data) - _U32.size  # where the CRC must start
  _, _, name_size = _PREFIX.unpack_from(data)
  name_start = _PREFIX.size
  fields_start = name_start + name_size
  if fields_start + _V1_FIELDS.size > payload_end:
    raise BitstreamError(f"truncated: the header "
                         f"({fields_start + _V1_FIELDS.size} bytes) runs past "
                         f"the end of the data")
  *fields, num_strings = _V1_FIELDS.unpack_from(data, fields_start)
  offset = fields_start + _V1_FIELDS.size
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

  header = _checked_header(data[name_start:fields_start], *fields, version=1)
  if header.num_layers != 1:
    raise BitstreamError(f"a version 1 file holds one layer, but this one "
                         f"says num_layers is {header.num_layers}")
  return header, [[data[start:end] for start, end in spans]]


def _checked_header(name, digest, rate, height, width, num_layers, version):
  """The Header from checksummed fields; BitstreamError if one is invalid."""
  if not name:
    raise BitstreamError("the model name is empty")
  try:
    model_name = name.decode("utf-8")
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
  return Header(model_name, digest, rate, height, width, num_layers, version)


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
