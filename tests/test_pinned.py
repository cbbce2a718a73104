"""Pinned bitstreams: what every shipped model writes and decodes stays the same.

`data/pinned/pinned.json` holds, for every shipped model at three rates (its
lowest, default and highest, or its rate points), the SHA-256 of the payload
strings `coding.encode` writes for the shipped sample image and of the pixels
they decode to; `data/pinned/NAME-DIGEST[-vN].tfvrc` are whole files a model
wrote (of format versions 1, 2 and 3), each with the SHA-256 of its decoded
pixels:
they must keep decoding, also after the model is replaced (its retired
version stays in the zoo). A retired version that has left the zoo (for
room) moves its files to "dropped": they must be refused, naming the
weights to pass with --model. A change that alters the pins must say why, and
regenerate them with `python tests/test_pinned.py`.

Payloads and decoded pixels are pinned per CPU vector-instruction set
(`SIMD`): oneDNN's AVX2 and AVX-512 kernels round the transforms
differently, which changes pixels and, at some rates, the encoder's
symbols. The whole files must decode on every kind since format version 3
(the table indexes are computed in fixed point); before, issue 15 found files
that decoded only where they were written: an older file pinned with no
pixels (null) on a kind must be refused there, by its checksum, never decoded
into garbage. When a change alters this kind's pins, the other kinds' pins of
that model are dropped as stale. A machine of a kind with no pins skips the
pin checks, saying so; `python tests/test_pinned.py` there adds its pins.
"""

import hashlib
import json
import os

import numpy as np
import pytest

from tfvrc import bitstream
from tfvrc import coding
from tfvrc import cpu
from tfvrc import zoo

PINNED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                      "pinned")
# The whole files: a crop of the sample at each model's default rate.
FILE_CROP = (slice(200, 264), slice(300, 396))


def simd():
  """The widest vector-instruction set oneDNN can use here."""
  flags = cpu.feature_flags()
  if flags is None:
    return "unknown"
  return ("avx512" if "avx512f" in flags else "avx2" if "avx2" in flags
          else "other")


SIMD = simd()


def check_pin(pins, value, what):
  """Compares with this SIMD kind's pin, or skips when it has none."""
  if SIMD not in pins:
    pytest.skip(f"no pin for {SIMD} CPUs yet (pinned: "
                f"{', '.join(sorted(pins))}); run tests/test_pinned.py here")
  assert value == pins[SIMD], what


def pinned():
  with open(os.path.join(PINNED, "pinned.json")) as f:
    return json.load(f)


def pinned_rates(codec):
  if codec.rate_points is not None:
    return list(codec.rate_points)[:3]
  lo, hi = codec.rate_range
  return sorted({lo, codec.default_rate, hi})


def sha256(data):
  return hashlib.sha256(data).hexdigest()


def payload_and_pixels(codec, image, rate):
  """SHA-256 of the payload strings (in order) and of the decoded pixels."""
  data = coding.encode(codec, image, rate)
  strings = [s for layer in bitstream.unpack(data)[1] for s in layer]
  return (sha256(b"".join(len(s).to_bytes(4, "big") + s for s in strings)),
          sha256(np.ascontiguousarray(coding.decode(codec, data)).tobytes()))


def test_every_shipped_model_is_pinned():
  assert sorted(pinned()["models"]) == zoo.names()


@pytest.mark.parametrize("name", zoo.names())
def test_shipped_models_write_and_decode_the_pinned_bitstreams(name, sample):
  codec = zoo.load(name)
  expected = pinned()["models"][name]
  assert expected["digest"] == codec.digest.hex()
  points = {point["rate"]: point for point in expected["points"]}
  for rate in pinned_rates(codec):
    payload, pixels = payload_and_pixels(codec, sample, rate)
    check_pin(points[rate]["payload"], payload, f"{name} at rate {rate:g}")
    check_pin(points[rate]["pixels"], pixels, f"{name} at rate {rate:g}")


@pytest.mark.parametrize("entry", pinned()["files"], ids=lambda e: e["file"])
def test_files_written_before_decode_to_the_same_pixels(entry):
  with open(os.path.join(PINNED, entry["file"]), "rb") as f:
    data = f.read()
  header = coding.read_header(data)
  codec = zoo.for_file(header)
  if SIMD in entry["pixels"] and entry["pixels"][SIMD] is None:
    # Written before format version 3 on another kind: refused, as pinned.
    assert header.format_version < 3, entry["file"]
    with pytest.raises(bitstream.BitstreamError, match="checksum mismatch"):
      coding.decode(codec, data)
    return
  decoded = coding.decode(codec, data)
  check_pin(entry["pixels"],
               sha256(np.ascontiguousarray(decoded).tobytes()), entry["file"])


@pytest.mark.parametrize("entry", pinned()["dropped"], ids=lambda e: e["file"])
def test_files_of_weights_that_left_the_zoo_are_refused(entry):
  with open(os.path.join(PINNED, entry["file"]), "rb") as f:
    header = coding.read_header(f.read())
  with pytest.raises(ValueError, match=f"weights {header.weights_digest.hex()}"
                     ", which this version does not ship"):
    zoo.for_file(header)


def write():
  """Regenerates the model pins from the current code and zoo, and adds a
  whole file for each zoo model that has none; existing files stay, as the
  record of what earlier versions wrote."""
  from tfvrc import cli, io  # pylint: disable=import-outside-toplevel
  sample = io.read_image(cli.SAMPLE_IMAGE)
  os.makedirs(PINNED, exist_ok=True)
  previous = pinned()
  files = {entry["file"]: entry for entry in previous["files"]}
  record = dict(models={})
  for name in zoo.names():
    codec = zoo.load(name)
    before = previous["models"].get(name, {})
    old = ({p["rate"]: p for p in before["points"]}
           if before.get("digest") == codec.digest.hex() else {})
    points = []
    for rate in pinned_rates(codec):
      payload, pixels = payload_and_pixels(codec, sample, rate)
      kept = old.get(rate, dict(payload={}, pixels={}))
      if (kept["payload"].get(SIMD, payload),
          kept["pixels"].get(SIMD, pixels)) != (payload, pixels):
        kept = dict(payload={}, pixels={})  # the coding changed
      points.append(dict(rate=rate,
                         payload={**kept["payload"], SIMD: payload},
                         pixels={**kept["pixels"], SIMD: pixels}))
    record["models"][name] = dict(digest=codec.digest.hex(), points=points)
    data = coding.encode(codec, sample[FILE_CROP])
    version = coding.read_header(data).format_version
    file_name = (f"{name.split(zoo.RETIRED)[0]}-{codec.digest.hex()}"
                 f"{'' if version < 3 else f'-v{version}'}.tfvrc")
    if file_name not in files:
      with open(os.path.join(PINNED, file_name), "wb") as f:
        f.write(data)
      files[file_name] = dict(file=file_name, pixels={})
  dropped = {entry["file"]: entry for entry in previous.get("dropped", [])}
  for entry in list(files.values()):  # this SIMD kind's pixels of every file
    with open(os.path.join(PINNED, entry["file"]), "rb") as f:
      data = f.read()
    header = coding.read_header(data)
    try:
      codec = zoo.for_file(header)
    except ValueError as e:  # its weights left the zoo
      print(f"dropped {entry['file']}: {e}")
      dropped[entry["file"]] = dict(file=entry["file"])
      del files[entry["file"]]
      continue
    try:
      entry["pixels"][SIMD] = sha256(
          np.ascontiguousarray(coding.decode(codec, data)).tobytes())
    except bitstream.BitstreamError as e:  # float tables differ on this kind
      if header.format_version >= 3:
        raise
      print(f"refused here: {entry['file']}: {e}")
      entry["pixels"][SIMD] = None
  record["files"] = sorted(files.values(), key=lambda e: e["file"])
  record["dropped"] = sorted(dropped.values(), key=lambda e: e["file"])
  with open(os.path.join(PINNED, "pinned.json"), "w") as f:
    json.dump(record, f, indent=1)
    f.write("\n")


if __name__ == "__main__":
  write()
