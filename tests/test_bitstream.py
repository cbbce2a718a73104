"""Tests for tfvrc.bitstream: round trips, the exact layouts, truncating
layers, and every way a file can be damaged or wrong, each of which must raise
BitstreamError."""

import dataclasses
import math
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image
import pytest

from tfvrc import bitstream
from tfvrc.bitstream import BitstreamError, Header

NAME = b"hyperprior-mse-q3"
DIGEST = bytes(range(1, 9))
HEADER = Header("hyperprior-mse-q3", DIGEST, 0.5, 480, 640, 1)
STRINGS = [b"first string", b"", b"\x00\xff" * 20]
# Three layers of different string counts, one empty string, one empty layer.
LAYERS = [[b"first string", b""], [], [b"\x00\xff" * 20, b"x", b""]]
HEADER3 = dataclasses.replace(HEADER, num_layers=3)
HEADER_SIZE = 6 + len(NAME) + 18 + 4  # version 2 or 3, with its CRC


def raw_v1(name=NAME, digest=DIGEST, rate=0.5, height=480, width=640,
           num_layers=1, strings=(), version=1):
  """A version 1 stream built straight from the documented layout, with a
  valid CRC, so unpack can be fed field values that pack would refuse."""
  body = b"TFVR" + struct.pack(">BB", version, len(name)) + name
  body += digest + struct.pack(">fHHHH", rate, height, width, num_layers,
                               len(strings))
  for string in strings:
    body += struct.pack(">I", len(string)) + string
  return body + struct.pack(">I", zlib.crc32(body))


def raw_v2(name=NAME, digest=DIGEST, rate=0.5, height=480, width=640,
           num_layers=None, layers=(), version=3):
  """A version 2 or 3 stream built straight from the documented layout, with valid
  CRCs; num_layers defaults to len(layers)."""
  if num_layers is None:
    num_layers = len(layers)
  head = b"TFVR" + struct.pack(">BB", version, len(name)) + name
  head += digest + struct.pack(">fHHH", rate, height, width, num_layers)
  data = head + struct.pack(">I", zlib.crc32(head))
  crc = 0  # each layer's CRC starts from the previous one's
  for layer in layers:
    body = struct.pack(">H", len(layer))
    for string in layer:
      body += struct.pack(">I", len(string)) + string
    crc = zlib.crc32(body, crc)
    data += body + struct.pack(">I", crc)
  return data


def layer_bounds(layers, start=HEADER_SIZE):
  """(start, end) of each layer in a version 2 file, from the layout."""
  bounds = []
  for layer in layers:
    end = start + 2 + sum(4 + len(string) for string in layer) + 4
    bounds.append((start, end))
    start = end
  return bounds


def flipped(data, position):
  damaged = bytearray(data)
  damaged[position] ^= 0x5A
  return bytes(damaged)


def test_layer_bounds_cover_the_file():
  data = bitstream.pack(HEADER3, LAYERS)
  bounds = layer_bounds(LAYERS)
  assert bounds[0][0] == HEADER_SIZE
  assert bounds[-1][1] == len(data)
  assert bounds[1][1] - bounds[1][0] == 6  # the empty layer


# --- Round trips ------------------------------------------------------------


@pytest.mark.parametrize("header, layers", [
    (HEADER, [STRINGS]),
    (HEADER, [[]]),
    (HEADER, [[b""]]),
    (HEADER, [[b"", b"", b""]]),
    (HEADER3, LAYERS),
    (dataclasses.replace(HEADER, num_layers=2), [[], []]),
    (Header("größe-模型-q3", DIGEST, 1.0, 1, 1, 1), [[b"x"]]),
    (Header("m" * 255, b"\xff" * 8, 2.0, 65535, 65535, 1), [[b"abc"]]),
    (Header("layered", DIGEST, 3.0, 17, 5, 7), [[bytes([i]) * i] * i
                                                for i in range(7)]),
])
def test_round_trip(header, layers):
  data = bitstream.pack(header, layers)
  assert isinstance(data, bytes)
  assert data[4] == 3
  assert bitstream.unpack(data) == (header, layers)


def test_version_2_round_trip_keeps_its_version():
  header = dataclasses.replace(HEADER, format_version=2)
  data = bitstream.pack(header, [STRINGS])
  assert data == raw_v2(layers=[STRINGS], version=2)
  assert bitstream.unpack(data) == (header, [STRINGS])
  assert bitstream.unpack(bitstream.truncate_layers(data, 1))[0] == header


@pytest.mark.parametrize("version", [0, 1, 4, 2.0, None])
def test_pack_refuses_versions_it_does_not_write(version):
  with pytest.raises(ValueError, match=r"^format_version must be one of"):
    bitstream.pack(dataclasses.replace(HEADER, format_version=version),
                   [STRINGS])


def test_max_layers_round_trip():
  header = dataclasses.replace(HEADER, num_layers=65535)
  layers = [[]] * 65534 + [[b"abc"]]
  assert bitstream.unpack(bitstream.pack(header, layers)) == (header, layers)


@pytest.mark.parametrize("rate", [0.0067, 7.5, 0.1, 1e-30, -3.25])
def test_rate_round_trips_through_float32(rate):
  header = dataclasses.replace(HEADER, rate=rate)
  decoded, _ = bitstream.unpack(bitstream.pack(header, [STRINGS]))
  assert decoded.rate == float(np.float32(rate))
  assert isinstance(decoded.rate, float)


def test_rate_is_stored_rounded_not_exact():
  decoded, _ = bitstream.unpack(bitstream.pack(
      dataclasses.replace(HEADER, rate=0.0067), [[]]))
  assert decoded.rate != 0.0067
  assert decoded.rate == pytest.approx(0.0067, rel=1e-7)


def test_many_strings_round_trip():
  rng = np.random.default_rng(0)
  layers = [[rng.bytes(int(n)) for n in rng.integers(0, 50, size=count)]
            for count in [2000, 1, 0, 300]]
  header = dataclasses.replace(HEADER, num_layers=4)
  assert bitstream.unpack(bitstream.pack(header, layers)) == (header, layers)


def test_max_strings_round_trip():
  layers = [[b""] * 65535, [b"a"] * 65535]
  header = dataclasses.replace(HEADER, num_layers=2)
  assert bitstream.unpack(bitstream.pack(header, layers))[1] == layers


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_unpack_accepts_bytes_like(wrap):
  data = bitstream.pack(HEADER3, LAYERS)
  header, layers = bitstream.unpack(wrap(data))
  assert header == HEADER3
  assert layers == LAYERS
  assert all(type(layer) is list for layer in layers)
  assert all(type(string) is bytes for layer in layers for string in layer)


def test_pack_accepts_bytes_like_strings_and_tuples():
  header = dataclasses.replace(HEADER, num_layers=2)
  data = bitstream.pack(header, ((bytearray(b"ab"),), [memoryview(b"cd")]))
  assert bitstream.unpack(data)[1] == [[b"ab"], [b"cd"]]


def test_pack_writes_the_documented_layout():
  assert bitstream.pack(HEADER3, LAYERS) == raw_v2(layers=LAYERS)


def test_a_layer_out_of_place_is_refused():
  """Layer 2 without layer 1 (or layers swapped) fails its chained CRC."""
  data = bitstream.pack(HEADER3, LAYERS)
  (_, end_1), (_, end_2), _ = layer_bounds(LAYERS)
  head = bitstream.pack(dataclasses.replace(HEADER3, num_layers=1),
                        LAYERS[:1])[:HEADER_SIZE]
  with pytest.raises(BitstreamError, match="layer 1 of 1 is corrupt"):
    bitstream.unpack(head + data[end_1:end_2])
  swapped = data[:HEADER_SIZE] + data[end_1:end_2] + data[HEADER_SIZE:end_1]
  with pytest.raises(BitstreamError, match="layer 1 of 2 is corrupt"):
    bitstream.unpack(bitstream.pack(dataclasses.replace(HEADER3, num_layers=2),
                                    LAYERS[:2])[:HEADER_SIZE] + swapped[
                                        HEADER_SIZE:])


def test_unpack_reads_an_independently_built_stream():
  header, layers = bitstream.unpack(
      raw_v2(name=b"abc", rate=7.5, height=3, width=4,
             layers=[[b"x", b"yz"], [], [b""]]))
  assert header == Header("abc", DIGEST, 7.5, 3, 4, 3)
  assert layers == [[b"x", b"yz"], [], [b""]]


def test_does_not_import_tensorflow():
  code = ("import sys, tfvrc.bitstream; "
          "sys.exit('tensorflow' in sys.modules)")
  assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- Version 1 files ------------------------------------------------------


@pytest.mark.parametrize("strings", [STRINGS, [], [b""], [b"x", b"yz"]])
def test_version_1_unpacks_to_one_layer(strings):
  header, layers = bitstream.unpack(raw_v1(strings=strings))
  assert header == dataclasses.replace(HEADER, format_version=1)
  assert layers == [strings]


def test_version_1_independently_built_stream():
  header, layers = bitstream.unpack(
      raw_v1(name=b"abc", rate=7.5, height=3, width=4, strings=[b"x", b"yz"]))
  assert header == Header("abc", DIGEST, 7.5, 3, 4, 1, format_version=1)
  assert layers == [[b"x", b"yz"]]


@pytest.mark.parametrize("num_layers", [2, 3, 65535])
def test_version_1_with_several_layers_is_refused(num_layers):
  with pytest.raises(BitstreamError,
                     match=rf"^a version 1 file holds one layer, but this one "
                           rf"says num_layers is {num_layers}$"):
    bitstream.unpack(raw_v1(num_layers=num_layers, strings=STRINGS))


def test_version_1_every_flipped_byte_is_detected():
  data = raw_v1(strings=STRINGS)
  for position in range(len(data)):
    with pytest.raises(BitstreamError):
      bitstream.unpack(flipped(data, position))


@pytest.mark.parametrize("field_offset", [0, 7, 8, 11, 12, 13, 14, 16, 17])
def test_version_1_flipped_header_field_fails_the_checksum(field_offset):
  # Counted from the digest: digest 0..7, rate 8..11, height 12..13,
  # width 14..15, num_layers 16..17 (num_strings is a length: see below).
  data = raw_v1(strings=STRINGS)
  position = 6 + len(NAME) + field_offset
  with pytest.raises(BitstreamError, match=r"^checksum mismatch"):
    bitstream.unpack(flipped(data, position))


def test_version_1_flipped_payload_byte_fails_the_checksum():
  data = raw_v1(strings=STRINGS)
  payload_start = len(data) - 4 - len(STRINGS[2])
  for position in [payload_start, payload_start + 17, len(data) - 5]:
    with pytest.raises(BitstreamError,
                       match=r"^checksum mismatch: the file is corrupt$"):
      bitstream.unpack(flipped(data, position))


@pytest.mark.parametrize("from_end", [1, 2, 3, 4])
def test_version_1_flipped_checksum(from_end):
  data = raw_v1(strings=STRINGS)
  with pytest.raises(BitstreamError, match=r"^checksum mismatch"):
    bitstream.unpack(flipped(data, len(data) - from_end))


def test_version_1_truncation_at_every_offset_says_truncated():
  data = raw_v1(strings=STRINGS)
  for size in range(len(data)):
    with pytest.raises(BitstreamError, match=r"^truncated: "):
      bitstream.unpack(data[:size])


def test_version_1_truncation_with_empty_trailing_strings():
  data = raw_v1(strings=[b"abc", b"", b""])
  for size in range(len(data) - 12, len(data)):
    with pytest.raises(BitstreamError, match=r"^truncated: "):
      bitstream.unpack(data[:size])


def test_version_1_string_length_past_the_end():
  data = raw_v1(strings=[b"abc"])
  length_at = len(data) - 4 - 3 - 4
  damaged = data[:length_at] + struct.pack(">I", 1000) + data[length_at + 4:]
  with pytest.raises(BitstreamError,
                     match=r"^truncated: string 0 of 1 declares 1000 bytes"):
    bitstream.unpack(damaged)


def test_version_1_string_count_past_the_end():
  data = raw_v1(strings=[b"abc"])
  count_at = 6 + len(NAME) + 8 + 4 + 6
  damaged = data[:count_at] + struct.pack(">H", 60000) + data[count_at + 2:]
  with pytest.raises(BitstreamError,
                     match=r"^truncated: 60000 strings declared"):
    bitstream.unpack(damaged)


@pytest.mark.parametrize("extra", [b"\x00", b"abc", b"\x00" * 4, b"x" * 100])
def test_version_1_trailing_bytes(extra):
  data = raw_v1(strings=STRINGS) + extra
  with pytest.raises(
      BitstreamError,
      match=rf"^{len(extra)} unexpected bytes after the last payload$"):
    bitstream.unpack(data)


# --- truncate_layers ------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3])
def test_truncate_layers_keeps_the_first_k(k):
  truncated = bitstream.truncate_layers(bitstream.pack(HEADER3, LAYERS), k)
  header, layers = bitstream.unpack(truncated)
  assert header == dataclasses.replace(HEADER3, num_layers=k)
  assert layers == LAYERS[:k]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_truncate_layers_copies_the_layer_bytes(k):
  data = bitstream.pack(HEADER3, LAYERS)
  truncated = bitstream.truncate_layers(data, k)
  end = layer_bounds(LAYERS)[k - 1][1]
  assert truncated[HEADER_SIZE:] == data[HEADER_SIZE:end]
  assert truncated[:HEADER_SIZE] == raw_v2(num_layers=k)


def test_truncate_layers_to_all_layers_is_the_same_file():
  data = bitstream.pack(HEADER3, LAYERS)
  assert bitstream.truncate_layers(data, 3) == data


def test_truncate_layers_accepts_numpy_ints_and_bytes_like():
  data = bytearray(bitstream.pack(HEADER3, LAYERS))
  truncated = bitstream.truncate_layers(memoryview(data), np.int64(2))
  assert bitstream.unpack(truncated)[1] == LAYERS[:2]


def test_truncate_layers_of_a_version_1_file():
  truncated = bitstream.truncate_layers(raw_v1(strings=STRINGS), 1)
  assert truncated[4] == 2
  assert truncated == raw_v2(layers=[STRINGS], version=2)
  assert bitstream.unpack(truncated) == (
      dataclasses.replace(HEADER, format_version=2), [STRINGS])


@pytest.mark.parametrize("k", [0, 4, -1, 65535, 1.0, "1", None, True])
def test_truncate_layers_refuses_a_bad_k(k):
  with pytest.raises(ValueError, match=r"\(the file has 3 layers\)$") as info:
    bitstream.truncate_layers(bitstream.pack(HEADER3, LAYERS), k)
  assert not isinstance(info.value, BitstreamError)


@pytest.mark.parametrize("k", [0, 2])
def test_truncate_layers_of_a_version_1_file_refuses_a_bad_k(k):
  with pytest.raises(ValueError,
                     match=rf"^k must be an integer in 1\.\.1, got {k} "
                           rf"\(the file has 1 layer\)$"):
    bitstream.truncate_layers(raw_v1(strings=STRINGS), k)


def test_truncate_layers_refuses_a_damaged_file():
  data = bitstream.pack(HEADER3, LAYERS)
  data = flipped(data, layer_bounds(LAYERS)[2][0] + 9)
  with pytest.raises(BitstreamError, match=r"^layer 3 of 3 is corrupt"):
    bitstream.truncate_layers(data, 1)


# --- Damaged data -----------------------------------------------------------


def test_every_flipped_byte_is_detected():
  data = bitstream.pack(HEADER3, LAYERS)
  bounds = layer_bounds(LAYERS)
  for position in range(len(data)):
    with pytest.raises(BitstreamError) as info:
      bitstream.unpack(flipped(data, position))
    if position < HEADER_SIZE:
      assert "layer" not in str(info.value)
    else:
      number = next(i for i, (start, end) in enumerate(bounds, start=1)
                    if start <= position < end)
      assert f"layer {number} of 3" in str(info.value)


@pytest.mark.parametrize("position", [0, 3])
def test_flipped_magic(position):
  data = flipped(bitstream.pack(HEADER3, LAYERS), position)
  with pytest.raises(BitstreamError, match=r"bad magic"):
    bitstream.unpack(data)


@pytest.mark.parametrize("position", [
    5, 6, 6 + len(NAME) - 1,  # the name's length and its bytes
    *range(6 + len(NAME), HEADER_SIZE),  # the fields and the CRC
])
def test_flipped_header_byte_fails_the_header_checksum(position):
  data = bitstream.pack(HEADER3, LAYERS)
  with pytest.raises(BitstreamError,
                     match=r"^the header is corrupt \(checksum mismatch\)$"):
    bitstream.unpack(flipped(data, position))


def test_header_checksum_is_checked_before_the_fields():
  data = bytearray(raw_v2(height=0, layers=LAYERS))
  data[HEADER_SIZE - 1] ^= 1
  with pytest.raises(BitstreamError, match=r"^the header is corrupt"):
    bitstream.unpack(bytes(data))


@pytest.mark.parametrize("number", [1, 2, 3])
def test_flipped_layer_byte_fails_that_layers_checksum(number):
  data = bitstream.pack(HEADER3, LAYERS)
  start, end = layer_bounds(LAYERS)[number - 1]
  payloads, position = [], start + 2
  for string in LAYERS[number - 1]:
    payloads += range(position + 4, position + 4 + len(string))
    position += 4 + len(string)
  for position in [*payloads, end - 4, end - 1]:
    with pytest.raises(
        BitstreamError,
        match=rf"^layer {number} of 3 is corrupt \(checksum mismatch\)"):
      bitstream.unpack(flipped(data, position))


def test_every_truncation_is_refused_naming_the_layer():
  data = bitstream.pack(HEADER3, LAYERS)
  bounds = layer_bounds(LAYERS)
  for size in range(len(data)):
    with pytest.raises(BitstreamError, match=r"^truncated: ") as info:
      bitstream.unpack(data[:size])
    message = str(info.value)
    if size < HEADER_SIZE:
      assert "layer" not in message
      assert "header" in message or size <= 4
      continue
    number, (start, _) = next((i, span) for i, span in enumerate(bounds, 1)
                              if span[0] <= size < span[1])
    where = "before" if size == start else "inside"
    assert message.startswith(
        f"truncated: the file ends {where} layer {number} of 3"), message


def test_string_length_past_the_end():
  data = raw_v2(layers=[[b"x"], [b"abc"]])
  length_at = len(data) - 4 - 3 - 4
  damaged = data[:length_at] + struct.pack(">I", 1000) + data[length_at + 4:]
  with pytest.raises(
      BitstreamError,
      match=r"^truncated: the file ends inside layer 2 of 2 \(string 0 of 1 "
            r"declares 1000 bytes, but only 7 remain\)$"):
    bitstream.unpack(damaged)


def test_shortened_string_length_fails_the_layer_checksum():
  data = raw_v2(layers=[[b"abc"], [b"x"]])
  length_at = HEADER_SIZE + 2
  damaged = data[:length_at] + struct.pack(">I", 2) + data[length_at + 4:]
  with pytest.raises(BitstreamError, match=r"^layer 1 of 2 is corrupt"):
    bitstream.unpack(damaged)


def test_string_count_past_the_end():
  data = raw_v2(layers=[[b"abc"]])
  damaged = (data[:HEADER_SIZE] + struct.pack(">H", 60000)
             + data[HEADER_SIZE + 2:])
  with pytest.raises(
      BitstreamError,
      match=r"^truncated: the file ends inside layer 1 of 1 \(60000 strings "
            r"declared"):
    bitstream.unpack(damaged)


@pytest.mark.parametrize("layers, number", [([], 1), ([[]], 2),
                                            ([[b"abc"], [b""]], 3)])
def test_hostile_layer_count_fails_fast(layers, number):
  data = raw_v2(num_layers=65535, layers=layers)
  with pytest.raises(BitstreamError,
                     match=rf"^truncated: the file ends before layer {number} "
                           rf"of 65535$"):
    bitstream.unpack(data)


@pytest.mark.parametrize("extra", [b"\x00", b"abc", b"\x00" * 6, b"x" * 100])
def test_trailing_bytes(extra):
  data = bitstream.pack(HEADER3, LAYERS) + extra
  with pytest.raises(
      BitstreamError,
      match=rf"^{len(extra)} unexpected bytes after the last layer$"):
    bitstream.unpack(data)


def test_an_extra_valid_layer_is_refused():
  data = raw_v2(num_layers=1, layers=[[b"a"], [b"b"]])
  with pytest.raises(BitstreamError,
                     match=r"^11 unexpected bytes after the last layer$"):
    bitstream.unpack(data)


def test_png_is_not_a_bitstream(tmp_path):
  path = tmp_path / "image.png"
  Image.new("RGB", (16, 16), (200, 30, 30)).save(path)
  with pytest.raises(BitstreamError,
                     match=r"^not a tfvrc bitstream \(bad magic\)$"):
    bitstream.unpack(path.read_bytes())


@pytest.mark.parametrize("data", [b"", b"TF", b"TFVR", b"TFVR\x01",
                                  b"TFVR\x02", b"TFVR\x02\x05abc"])
def test_too_short(data):
  with pytest.raises(BitstreamError, match=r"^truncated: "):
    bitstream.unpack(data)


@pytest.mark.parametrize("make", [lambda: bitstream.pack(HEADER3, LAYERS),
                                  lambda: raw_v1(strings=STRINGS)])
@pytest.mark.parametrize("version", [0, 4, 255])
def test_unsupported_version(make, version):
  data = bytearray(make())
  data[4] = version
  with pytest.raises(
      BitstreamError,
      match=rf"^unsupported format version {version} "
            rf"\(this tfvrc reads 1 to 3\)$"):
    bitstream.unpack(bytes(data))


def test_future_version_is_reported_even_when_short():
  with pytest.raises(BitstreamError, match=r"^unsupported format version 4"):
    bitstream.unpack(b"TFVR\x04")


def test_unpack_rejects_non_bytes():
  with pytest.raises(TypeError, match=r"expected bytes, got str"):
    bitstream.unpack("TFVR")


# --- Well-formed streams with invalid fields ---------------------------------

INVALID_FIELDS = [
    (dict(height=0), r"^the image is 0x640; height and width must be at least"),
    (dict(width=0), r"^the image is 480x0; height and width must be at least"),
    (dict(rate=math.nan), r"^the rate is nan, not a finite number$"),
    (dict(rate=math.inf), r"^the rate is inf, not a finite number$"),
    (dict(rate=-math.inf), r"^the rate is -inf, not a finite number$"),
    (dict(name=b""), r"^the model name is empty$"),
    (dict(name=b"bad\xff\xfe"), r"^the model name is not valid UTF-8"),
    (dict(num_layers=0), r"^num_layers is 0$"),
]


@pytest.mark.parametrize("fields, message", INVALID_FIELDS)
def test_invalid_fields_with_valid_checksum(fields, message):
  with pytest.raises(BitstreamError, match=message):
    bitstream.unpack(raw_v2(layers=[[b"abc"]], **fields))


@pytest.mark.parametrize("fields, message", INVALID_FIELDS)
def test_version_1_invalid_fields_with_valid_checksum(fields, message):
  with pytest.raises(BitstreamError, match=message):
    bitstream.unpack(raw_v1(strings=[b"abc"], **fields))


# --- check_model ------------------------------------------------------------


def test_check_model_accepts_the_writer():
  bitstream.check_model(HEADER, "hyperprior-mse-q3", DIGEST)


def test_check_model_other_name():
  with pytest.raises(
      BitstreamError,
      match=r"^written by model 'hyperprior-mse-q3' \(digest 0102030405060708"
            r"\), not by 'hyperprior-mse-q5' \(digest 0102030405060708\)$"):
    bitstream.check_model(HEADER, "hyperprior-mse-q5", DIGEST)


def test_check_model_other_digest():
  with pytest.raises(
      BitstreamError,
      match=r"'hyperprior-mse-q3' \(digest 0102030405060708\), "
            r"not by 'hyperprior-mse-q3' \(digest 0000000000000000\)"):
    bitstream.check_model(HEADER, "hyperprior-mse-q3", bytes(8))


# --- pack refusing invalid input ----------------------------------------------


@pytest.mark.parametrize("fields, message", [
    (dict(height=0), r"^height must be an integer in 1\.\.65535, got 0$"),
    (dict(height=70000), r"^height must be .* got 70000$"),
    (dict(height=-1), r"^height must be .* got -1$"),
    (dict(height=2.5), r"^height must be .* got 2\.5$"),
    (dict(width=0), r"^width must be .* got 0$"),
    (dict(width=65536), r"^width must be .* got 65536$"),
    (dict(num_layers=0), r"^num_layers must be .* got 0$"),
    (dict(num_layers=65536), r"^num_layers must be .* got 65536$"),
    (dict(weights_digest=bytes(7)), r"^weights_digest must be 8 bytes"),
    (dict(weights_digest=bytes(9)), r"^weights_digest must be 8 bytes"),
    (dict(weights_digest="01234567"), r"^weights_digest must be 8 bytes"),
    (dict(rate=math.nan), r"^rate must be finite in float32, got nan$"),
    (dict(rate=math.inf), r"^rate must be finite in float32, got inf$"),
    (dict(rate=1e39), r"^rate must be finite in float32, got 1e\+39$"),
    (dict(rate="0.5"), r"^rate must be a real number"),
    (dict(model_name=""), r"^model_name must be 1\.\.255 bytes .* got 0$"),
    (dict(model_name="m" * 256), r"^model_name must be .* got 256$"),
    (dict(model_name="é" * 128), r"^model_name must be .* got 256$"),
    (dict(model_name=b"name"), r"^model_name must be a str"),
])
def test_pack_rejects_invalid_header(fields, message):
  header = dataclasses.replace(HEADER, **fields)
  with pytest.raises(ValueError, match=message):
    bitstream.pack(header, [STRINGS])


@pytest.mark.parametrize("num_layers, layers", [
    (1, [[b"a"], [b"b"]]), (3, [[b"a"], [b"b"]]), (2, [[]])])
def test_pack_rejects_a_layer_count_mismatch(num_layers, layers):
  header = dataclasses.replace(HEADER, num_layers=num_layers)
  with pytest.raises(ValueError,
                     match=rf"^header\.num_layers is {num_layers}, but "
                           rf"{len(layers)} layers were given$"):
    bitstream.pack(header, layers)


def test_pack_rejects_a_flat_list_of_strings():
  with pytest.raises(ValueError,
                     match=r"^layer 1 must be a sequence of strings, "
                           r"got bytes$"):
    bitstream.pack(HEADER, [b"a flat list, as version 1 took"])


def test_pack_rejects_bytes_as_layers():
  with pytest.raises(ValueError,
                     match=r"^layers must be a sequence of layers, got bytes$"):
    bitstream.pack(HEADER, b"a")


def test_pack_rejects_non_bytes_string():
  header = dataclasses.replace(HEADER, num_layers=2)
  with pytest.raises(ValueError,
                     match=r"^string 1 of layer 2 must be bytes, got str$"):
    bitstream.pack(header, [[b"ok"], [b"ok", "not bytes"]])


def test_pack_rejects_too_many_strings():
  header = dataclasses.replace(HEADER, num_layers=2)
  with pytest.raises(
      ValueError,
      match=r"^number of strings in layer 2 must be .* got 65536$"):
    bitstream.pack(header, [[], [b""] * 65536])
