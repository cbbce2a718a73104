"""Tests for tfvrc.bitstream: round trips, the exact layout, and every way a
file can be damaged or wrong, each of which must raise BitstreamError."""

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

DIGEST = bytes(range(1, 9))
HEADER = Header("hyperprior-mse-q3", DIGEST, 0.5, 480, 640, 1)
STRINGS = [b"first string", b"", b"\x00\xff" * 20]


def raw_stream(name=b"hyperprior-mse-q3", digest=DIGEST, rate=0.5, height=480,
               width=640, num_layers=1, strings=(), version=1):
  """A stream built straight from the documented layout, with a valid CRC,
  so unpack can be fed field values that pack would refuse to write."""
  body = b"TFVR" + struct.pack(">BB", version, len(name)) + name
  body += digest + struct.pack(">fHHHH", rate, height, width, num_layers,
                               len(strings))
  for string in strings:
    body += struct.pack(">I", len(string)) + string
  return body + struct.pack(">I", zlib.crc32(body))


def flipped(data, position):
  damaged = bytearray(data)
  damaged[position] ^= 0x5A
  return bytes(damaged)


# --- Round trips ------------------------------------------------------------


@pytest.mark.parametrize("header, strings", [
    (HEADER, STRINGS),
    (HEADER, []),
    (HEADER, [b""]),
    (HEADER, [b"", b"", b""]),
    (Header("größe-模型-q3", DIGEST, 1.0, 1, 1, 1), [b"x"]),
    (Header("m" * 255, b"\xff" * 8, 2.0, 65535, 65535, 65535), [b"abc"]),
    (Header("layered", DIGEST, 3.0, 17, 5, 3), [bytes([i]) * i
                                                for i in range(7)]),
])
def test_round_trip(header, strings):
  data = bitstream.pack(header, strings)
  assert isinstance(data, bytes)
  assert bitstream.unpack(data) == (header, strings)


@pytest.mark.parametrize("rate", [0.0067, 7.5, 0.1, 1e-30, -3.25])
def test_rate_round_trips_through_float32(rate):
  header = dataclasses.replace(HEADER, rate=rate)
  decoded, _ = bitstream.unpack(bitstream.pack(header, STRINGS))
  assert decoded.rate == float(np.float32(rate))
  assert isinstance(decoded.rate, float)


def test_rate_is_stored_rounded_not_exact():
  decoded, _ = bitstream.unpack(bitstream.pack(
      dataclasses.replace(HEADER, rate=0.0067), []))
  assert decoded.rate != 0.0067
  assert decoded.rate == pytest.approx(0.0067, rel=1e-7)


def test_many_strings_round_trip():
  rng = np.random.default_rng(0)
  strings = [rng.bytes(int(n)) for n in rng.integers(0, 50, size=2000)]
  header, decoded = bitstream.unpack(bitstream.pack(HEADER, strings))
  assert header == HEADER
  assert decoded == strings


def test_max_strings_round_trip():
  strings = [b""] * 65535
  assert bitstream.unpack(bitstream.pack(HEADER, strings))[1] == strings


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_unpack_accepts_bytes_like(wrap):
  data = bitstream.pack(HEADER, STRINGS)
  header, strings = bitstream.unpack(wrap(data))
  assert header == HEADER
  assert strings == STRINGS
  assert all(type(string) is bytes for string in strings)


def test_pack_accepts_bytes_like_strings():
  data = bitstream.pack(HEADER, [bytearray(b"ab"), memoryview(b"cd")])
  assert bitstream.unpack(data)[1] == [b"ab", b"cd"]


def test_pack_writes_the_documented_layout():
  assert bitstream.pack(HEADER, STRINGS) == raw_stream(strings=STRINGS)


def test_unpack_reads_an_independently_built_stream():
  header, strings = bitstream.unpack(
      raw_stream(name=b"abc", rate=7.5, height=3, width=4, num_layers=2,
                 strings=[b"x", b"yz"]))
  assert header == Header("abc", DIGEST, 7.5, 3, 4, 2)
  assert strings == [b"x", b"yz"]


def test_does_not_import_tensorflow():
  code = ("import sys, tfvrc.bitstream; "
          "sys.exit('tensorflow' in sys.modules)")
  assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- Damaged data -----------------------------------------------------------


def test_every_flipped_byte_is_detected():
  data = bitstream.pack(HEADER, STRINGS)
  for position in range(len(data)):
    with pytest.raises(BitstreamError):
      bitstream.unpack(flipped(data, position))


@pytest.mark.parametrize("position", [0, 3])
def test_flipped_magic(position):
  data = flipped(bitstream.pack(HEADER, STRINGS), position)
  with pytest.raises(BitstreamError, match=r"bad magic"):
    bitstream.unpack(data)


@pytest.mark.parametrize("field_offset", [0, 7, 8, 11, 12, 13, 14, 16, 17])
def test_flipped_header_field_fails_the_checksum(field_offset):
  # Counted from the digest: digest 0..7, rate 8..11, height 12..13,
  # width 14..15, num_layers 16..17 (num_strings is a length: see below).
  data = bitstream.pack(HEADER, STRINGS)
  position = 6 + len(HEADER.model_name) + field_offset
  with pytest.raises(BitstreamError, match=r"^checksum mismatch"):
    bitstream.unpack(flipped(data, position))


def test_flipped_payload_byte_fails_the_checksum():
  data = bitstream.pack(HEADER, STRINGS)
  payload_start = len(data) - 4 - len(STRINGS[2])
  for position in [payload_start, payload_start + 17, len(data) - 5]:
    with pytest.raises(BitstreamError,
                       match=r"^checksum mismatch: the file is corrupt$"):
      bitstream.unpack(flipped(data, position))


@pytest.mark.parametrize("from_end", [1, 2, 3, 4])
def test_flipped_checksum(from_end):
  data = bitstream.pack(HEADER, STRINGS)
  with pytest.raises(BitstreamError, match=r"^checksum mismatch"):
    bitstream.unpack(flipped(data, len(data) - from_end))


def test_truncation_at_every_offset_says_truncated():
  data = bitstream.pack(HEADER, STRINGS)
  for size in range(len(data)):
    with pytest.raises(BitstreamError, match=r"^truncated: "):
      bitstream.unpack(data[:size])


def test_truncation_with_empty_trailing_strings():
  data = bitstream.pack(HEADER, [b"abc", b"", b""])
  for size in range(len(data) - 12, len(data)):
    with pytest.raises(BitstreamError, match=r"^truncated: "):
      bitstream.unpack(data[:size])


def test_string_length_past_the_end():
  data = raw_stream(strings=[b"abc"])
  length_at = len(data) - 4 - 3 - 4
  damaged = data[:length_at] + struct.pack(">I", 1000) + data[length_at + 4:]
  with pytest.raises(BitstreamError,
                     match=r"^truncated: string 0 of 1 declares 1000 bytes"):
    bitstream.unpack(damaged)


def test_string_count_past_the_end():
  data = raw_stream(strings=[b"abc"])
  count_at = 6 + len(HEADER.model_name) + 8 + 4 + 6
  damaged = data[:count_at] + struct.pack(">H", 60000) + data[count_at + 2:]
  with pytest.raises(BitstreamError,
                     match=r"^truncated: 60000 strings declared"):
    bitstream.unpack(damaged)


def test_png_is_not_a_bitstream(tmp_path):
  path = tmp_path / "image.png"
  Image.new("RGB", (16, 16), (200, 30, 30)).save(path)
  with pytest.raises(BitstreamError,
                     match=r"^not a tfvrc bitstream \(bad magic\)$"):
    bitstream.unpack(path.read_bytes())


@pytest.mark.parametrize("data", [b"", b"TF", b"TFVR", b"TFVR\x01"])
def test_too_short(data):
  with pytest.raises(BitstreamError, match=r"^truncated: "):
    bitstream.unpack(data)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unsupported_version(version):
  data = bytearray(bitstream.pack(HEADER, STRINGS))
  data[4] = version
  with pytest.raises(
      BitstreamError,
      match=rf"^unsupported format version {version} \(this tfvrc reads 1\)$"):
    bitstream.unpack(bytes(data))


def test_future_version_is_reported_even_when_short():
  with pytest.raises(BitstreamError, match=r"^unsupported format version 2"):
    bitstream.unpack(b"TFVR\x02")


@pytest.mark.parametrize("extra", [b"\x00", b"abc", b"\x00" * 4, b"x" * 100])
def test_trailing_bytes(extra):
  data = bitstream.pack(HEADER, STRINGS) + extra
  with pytest.raises(
      BitstreamError,
      match=rf"^{len(extra)} unexpected bytes after the last payload$"):
    bitstream.unpack(data)


def test_unpack_rejects_non_bytes():
  with pytest.raises(TypeError, match=r"expected bytes, got str"):
    bitstream.unpack("TFVR")


# --- Well-formed streams with invalid fields ---------------------------------


@pytest.mark.parametrize("fields, message", [
    (dict(height=0), r"^the image is 0x640; height and width must be at least"),
    (dict(width=0), r"^the image is 480x0; height and width must be at least"),
    (dict(rate=math.nan), r"^the rate is nan, not a finite number$"),
    (dict(rate=math.inf), r"^the rate is inf, not a finite number$"),
    (dict(rate=-math.inf), r"^the rate is -inf, not a finite number$"),
    (dict(name=b""), r"^the model name is empty$"),
    (dict(name=b"bad\xff\xfe"), r"^the model name is not valid UTF-8"),
    (dict(num_layers=0), r"^num_layers is 0$"),
])
def test_invalid_fields_with_valid_checksum(fields, message):
  with pytest.raises(BitstreamError, match=message):
    bitstream.unpack(raw_stream(strings=[b"abc"], **fields))


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
    bitstream.pack(header, STRINGS)


def test_pack_rejects_non_bytes_string():
  with pytest.raises(ValueError, match=r"^string 1 must be bytes, got str$"):
    bitstream.pack(HEADER, [b"ok", "not bytes"])


def test_pack_rejects_too_many_strings():
  with pytest.raises(ValueError,
                     match=r"^number of strings must be .* got 65536$"):
    bitstream.pack(HEADER, [b""] * 65536)
