"""The asymmetric MSRB family: a causal context model, the wavefront decode
order, bit-exact round trips (also in a fresh process) and refusal of
corrupt payloads (small untrained models; weights from a file)."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, run_tfvrc
from tfvrc import bitstream
from tfvrc import coding
from tfvrc import io
from tfvrc import models
from tfvrc import zoo
from tfvrc.latent_codecs import context


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
  tf.keras.utils.set_random_seed(5)
  model = models.create("asymmetric_msrb", num_filters=16)
  model.build_coders()  # published with its tables: loads skip the search
  path = str(tmp_path_factory.mktemp("msrb") / "msrb-small.npz")
  zoo.save(model, path, steps=0, tables=model.coder_tables())
  return path


@pytest.fixture(scope="module")
def codec(weights):
  return zoo.load_file(weights)


def test_wavefront_visits_every_position_once_after_its_context():
  height, width = 32, 48
  steps = context.wavefront(height, width)
  assert len(steps) == 141  # a Kodak latent: 141 steps, not 1536
  done = np.full((height, width), -1)
  for t, (rows, cols) in enumerate(steps):
    assert np.all(done[rows, cols] == -1)
    for dy, dx in context.CAUSAL_OFFSETS:
      r, c = rows + dy, cols + dx
      inside = (r >= 0) & (c >= 0) & (c < width)
      assert np.all(done[r[inside], c[inside]] >= 0)
      assert np.all(done[r[inside], c[inside]] < t)
    done[rows, cols] = t
  assert np.all(done >= 0)


def test_context_model_is_causal(codec):
  """Changing one latent changes no distribution at it or before it in
  raster order (through the training convolution and the coding taps)."""
  codec_model = codec.model.context_codec
  rng = np.random.default_rng(0)
  y = rng.integers(-3, 4, (1, 6, 7, 16)).astype(np.float32)
  phi = tf.constant(rng.normal(size=(1, 6, 7, 32)), tf.float32)

  def parameters(y):
    return codec_model.entropy_parameters(
        tf.concat([codec_model.context(tf.constant(y)), phi], -1)).numpy()[0]

  def coding_pmfs(y):
    padded = np.pad(y[0], [(2, 0), (2, 2), (0, 0)])
    rows, cols = np.divmod(np.arange(42), 7)
    return codec_model._step(
        tf.constant(context.gather_taps(padded, rows, cols)),
        tf.reshape(phi, [42, 32]), tf.range(16), tf.constant(5)).numpy()

  before, pmfs = parameters(y), coding_pmfs(y)
  changed = y.copy()
  changed[0, 3, 4] += 2.
  after, pmfs_after = parameters(changed), coding_pmfs(changed)
  order = np.arange(42).reshape(6, 7)
  earlier = order <= order[3, 4]
  np.testing.assert_array_equal(before[earlier], after[earlier])
  np.testing.assert_array_equal(pmfs.reshape(6, 7, -1)[earlier],
                                pmfs_after.reshape(6, 7, -1)[earlier])
  assert not np.array_equal(before[~earlier], after[~earlier])


@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (70, 100)])
def test_round_trip_is_bit_exact_for_any_size(codec, sample, shape):
  image = sample[:shape[0], :shape[1]]
  data = coding.encode(codec, image)
  decoded = coding.decode(codec, data)
  expected, _ = codec.reconstruct(tf.constant(image),
                                  tf.constant(codec.default_rate))
  np.testing.assert_array_equal(decoded, expected.numpy())


def test_gained_option_codes_any_rate_and_rates_grow(sample):
  tf.keras.utils.set_random_seed(6)
  model = models.create("asymmetric_msrb-gained", num_filters=16,
                        lmbdas=[0.002, 0.02, 0.2])
  model.build_coders()
  codec = coding.Codec.of(model, "gained-small")
  image = sample[:64, :96]
  sizes = []
  for rate in (0., 0.7, 1.3, 2.):
    data = coding.encode(codec, image, rate)
    expected, _ = model.reconstruct(tf.constant(image), tf.constant(rate))
    np.testing.assert_array_equal(coding.decode(codec, data),
                                  expected.numpy())
    sizes.append(len(data))
  assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def _with_y_string(codec, data, change):
  """The file with y's string changed and the container's checksums
  recomputed, so only the latent decoder can notice."""
  header, layers = bitstream.unpack(data)
  y_string, z_string = layers[0]
  return bitstream.pack(header, [[change(y_string), z_string]])


@pytest.mark.parametrize("change", [
    lambda s: s[:len(s) // 2],
    lambda s: s[:3],
    lambda s: s[:12] + bytes(b ^ 0x5A for b in s[12:]),
    lambda s: b"\xff\xff" + s[2:],  # a magnitude no table can hold
], ids=["half", "header-cut", "flipped", "magnitude"])
def test_corrupt_latent_gives_the_bitstream_error_quickly(codec, sample,
                                                           change):
  data = coding.encode(codec, sample[:64, :64])
  corrupt = _with_y_string(codec, data, change)
  start = time.monotonic()
  with pytest.raises(bitstream.BitstreamError, match="does not decode"):
    coding.decode(codec, corrupt)
  assert time.monotonic() - start < 60


@pytest.fixture(name="crop_file")
def crop_file_fixture(sample, tmp_path):
  path = tmp_path / "crop.png"
  io.write_image(str(path), sample[:80, :120])
  return str(path)


@pytest.mark.slow
def test_round_trip_in_fresh_processes(weights, crop_file, tmp_path):
  _round_trip_in_fresh_processes(weights, crop_file, tmp_path)


@pytest.mark.slow
def test_round_trip_of_a_kodak_image_in_fresh_processes(weights, kodak,
                                                        tmp_path):
  _round_trip_in_fresh_processes(weights, kodak[0], tmp_path)


def _round_trip_in_fresh_processes(weights, path, tmp_path):
  """compress and decompress in two fresh processes, as a user runs them:
  the decoded pixels equal what a third one's model reconstructs."""
  coded, decoded = tmp_path / "k.tfvrc", tmp_path / "k.png"
  for args in (("compress", path, str(coded)),
               ("decompress", str(coded), str(decoded))):
    result = run_tfvrc(*args, "--model", weights)
    assert result.returncode == 0, result.stderr
  script = ("import sys, numpy as np, tensorflow as tf\n"
            "from tfvrc import io, zoo\n"
            "codec = zoo.load_file(sys.argv[1])\n"
            "image = io.read_image(sys.argv[2])\n"
            "x, _ = codec.reconstruct(tf.constant(image),"
            " tf.constant(codec.default_rate))\n"
            "np.save(sys.argv[3], x.numpy())\n")
  expected = tmp_path / "expected.npy"
  subprocess.run([sys.executable, "-c", script, weights, path,
                  str(expected)], check=True, timeout=600,
                 env=dict(os.environ, PYTHONPATH=ROOT))
  np.testing.assert_array_equal(io.read_image(str(decoded)),
                                np.load(expected))
