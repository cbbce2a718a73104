"""Property-based fuzzing (hypothesis), seconds in the default run: the
container refuses or parses any bytes, and the decoders (tfc's range coder,
bounded, for the built-in model; the MSRB family's context coder) refuse or
decode any change of a payload or of the header's size that keeps the
container's checksums valid, never crashing or hanging. The long run is
`experiments/reliability/fuzz.py`.
"""

import dataclasses
import time

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from tfvrc import bitstream
from tfvrc import coding
from tfvrc import models

HEADER = bitstream.Header(model_name="fuzz", weights_digest=bytes(range(8)),
                          rate=1.5, height=40, width=60, num_layers=2)
VALID = bitstream.pack(HEADER, [[b"first layer", b"\x00\x01"], [b"second"]])


def parses_or_refuses(data):
  """unpack(data) gives a well-formed result or BitstreamError."""
  try:
    header, layers = bitstream.unpack(data)
  except bitstream.BitstreamError:
    return False
  assert isinstance(header, bitstream.Header)
  assert len(layers) == header.num_layers
  assert all(isinstance(s, bytes) for layer in layers for s in layer)
  return True


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_refused_or_parsed(data):
  parses_or_refuses(data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_changed_files_are_refused_or_parsed(data):
  """Bit flips, cuts, insertions and overwritten fields of a valid file."""
  raw = bytearray(VALID)
  kind = data.draw(st.sampled_from(["flip", "cut", "insert", "field"]))
  position = data.draw(st.integers(0, len(raw) - 1))
  if kind == "flip":
    raw[position] ^= 1 << data.draw(st.integers(0, 7))
  elif kind == "cut":
    raw = raw[:position]
  elif kind == "insert":
    raw[position:position] = data.draw(st.binary(min_size=1, max_size=8))
  else:  # a huge value where a length or size may stand
    raw[position:position + 4] = b"\xff\xff\xff\xff"
  if parses_or_refuses(bytes(raw)):
    assert kind == "insert" or bytes(raw) == VALID


def mutated(string, data):
  """`string` with 1-4 bit flips, cuts or overwritten bytes."""
  changed = bytearray(string)
  for _ in range(data.draw(st.integers(1, 4))):
    if not changed:
      break
    kind = data.draw(st.sampled_from(["flip", "cut", "byte"]))
    position = data.draw(st.integers(0, len(changed) - 1))
    if kind == "flip":
      changed[position] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "cut":
      changed = changed[:position]
    else:
      changed[position] = data.draw(st.integers(0, 255))
  return bytes(changed)


def refused_or_decoded(codec, file, shape):
  """coding.decode(file): a BitstreamError or an image of `shape`, in a
  bounded time."""
  start = time.monotonic()
  try:
    image = coding.decode(codec, file)
  except bitstream.BitstreamError:
    pass
  else:
    assert image.shape == shape
  assert time.monotonic() - start < 30


@pytest.fixture(scope="module")
def built_in_file(model, sample):
  return coding.encode(model, sample[:48, :64])


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_built_in_decoder_refuses_or_decodes_changed_payloads(
    model, built_in_file, data):
  header, [strings] = bitstream.unpack(built_in_file)
  which = data.draw(st.integers(0, len(strings) - 1))
  strings = list(strings)
  strings[which] = mutated(strings[which], data)
  height, width = data.draw(st.sampled_from(
      [(48, 64), (72, 129), (16, 16), (1, 300)]))
  header = dataclasses.replace(header, height=height, width=width)
  refused_or_decoded(model, bitstream.pack(header, [strings]),
                     (height, width, 3))


@pytest.fixture(scope="module")
def msrb():
  tf.keras.utils.set_random_seed(7)
  model = models.create("asymmetric_msrb", num_filters=16)
  model.build_coders()
  codec = coding.Codec.of(model, "fuzz-msrb")
  image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
  return codec, coding.encode(codec, image)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_msrb_decoder_refuses_or_decodes_changed_payloads(msrb, data):
  codec, file = msrb
  header, layers = bitstream.unpack(file)
  y_string, z_string = layers[0]
  repacked = bitstream.pack(header, [[mutated(y_string, data), z_string]])
  refused_or_decoded(codec, repacked, (48, 64, 3))
