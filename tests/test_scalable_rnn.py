"""The scalable RNN family: one layered file whose every prefix decodes
bit-exactly, on the CLI too (a small untrained model; weights from a file)."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_tfvrc
from tfvrc import bitstream
from tfvrc import coding
from tfvrc import io
from tfvrc import metrics
from tfvrc import models
from tfvrc import zoo

LAYERS = 4


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
  """A small model's weights file, as a user's training run writes it."""
  tf.keras.utils.set_random_seed(3)
  model = models.create("scalable_rnn", num_filters=16, latent_depth=32)
  model.build_coders()  # published with its tables: loads skip the search
  path = str(tmp_path_factory.mktemp("rnn") / "rnn-small.npz")
  zoo.save(model, path, steps=0, tables=model.coder_tables())
  return path


@pytest.fixture(scope="module")
def codec(weights):
  return zoo.load_file(weights)


@pytest.fixture(scope="module")
def crop(sample):
  return sample[100:170, 200:300]  # not a multiple of the padding


@pytest.fixture(scope="module")
def coded(codec, crop):
  """The file of all layers, and the encoder's reconstruction per layer."""
  data = coding.encode(codec, crop)
  _, reconstructions = codec.model.compress_layers(tf.constant(crop), LAYERS)
  return data, reconstructions


def test_coding_in_tiles_keeps_every_prefix_exact(weights, codec, sample,
                                                   coded):
  """Tiles of 64 pixels (the crop spans 2 x 2, the larger image 2 x 3):
  the crop's file is the one of a single tile, and every prefix of a
  tiled file decodes to the encoder's reconstruction and, in one tile,
  to within a grey level of it."""
  tiled = zoo.load_file(weights)
  tiled.model.tile_size = 64
  assert coding.encode(tiled, sample[100:170, 200:300]) == coded[0]
  image = sample[:128, :160]
  data = coding.encode(tiled, image)
  _, reconstructions = tiled.model.compress_layers(tf.constant(image), LAYERS)
  for k in range(1, LAYERS + 1):
    np.testing.assert_array_equal(coding.decode(tiled, data, layers=k),
                                  reconstructions[k - 1])
    difference = (coding.decode(codec, data, layers=k).astype(int)
                  - reconstructions[k - 1])
    assert np.abs(difference).max() <= 1


def test_the_file_holds_one_layer_per_iteration(coded):
  header, layers = bitstream.unpack(coded[0])
  assert header.num_layers == LAYERS
  assert all(len(layer) == 2 for layer in layers)


@pytest.mark.parametrize("k", range(1, LAYERS + 1))
def test_every_prefix_decodes_to_the_encoders_reconstruction(codec, coded, k):
  data, reconstructions = coded
  prefix = coding.decode(codec, data, layers=k)
  truncated = coding.decode(codec, bitstream.truncate_layers(data, k))
  np.testing.assert_array_equal(prefix, reconstructions[k - 1])
  np.testing.assert_array_equal(truncated, reconstructions[k - 1])


def test_rate_k_writes_the_first_k_layers_of_the_full_file(codec, crop, coded):
  header, layers = bitstream.unpack(coding.encode(codec, crop, 2))
  assert layers == bitstream.unpack(coded[0])[1][:2]
  assert header.num_layers == 2


@pytest.mark.parametrize("layers", [0, LAYERS + 1])
def test_layers_outside_the_file_are_refused(codec, coded, layers):
  with pytest.raises(ValueError, match=f"the file holds {LAYERS} layers"):
    coding.decode(codec, coded[0], layers=layers)


@pytest.mark.parametrize("rate", [0, 2.5, LAYERS + 1])
def test_rates_other_than_a_layer_count_are_refused(codec, crop, rate):
  with pytest.raises(ValueError):
    coding.encode(codec, crop, rate)


def test_a_file_cut_inside_a_layer_is_refused(codec, coded):
  data = coded[0]
  with pytest.raises(bitstream.BitstreamError, match="truncated"):
    coding.decode(codec, data[:-10])


@pytest.mark.slow
def test_cli_truncate_and_decompress_in_fresh_processes(weights, coded,
                                                        tmp_path):
  data, reconstructions = coded
  full = tmp_path / "full.tfvrc"
  full.write_bytes(data)
  short = tmp_path / "two.tfvrc"
  result = run_tfvrc("truncate", str(full), str(short), "--layers", "2")
  assert result.returncode == 0, result.stderr
  for source, extra in ((short, []), (full, ["--layers", "2"])):
    out = tmp_path / f"{source.stem}-{len(extra)}.png"
    result = run_tfvrc("decompress", str(source), str(out), "--model",
                       weights, *extra)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(io.read_image(str(out)), reconstructions[1])
  refused = run_tfvrc("decompress", str(short), str(tmp_path / "x.png"),
                      "--model", weights, "--layers", "3")
  assert refused.returncode == 1
  assert "the file holds 2 layers" in refused.stderr
  assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_training_lowers_the_summed_prefix_loss(sample):
  tf.keras.utils.set_random_seed(4)
  model = models.create("scalable_rnn", num_filters=16, latent_depth=32)
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
  batch = tf.cast(tf.stack([sample[:64, :64], sample[200:264, 300:364]]),
                  tf.float32)
  rates = model.sample_rates(2)
  before = float(tf.reduce_mean(model.rd_terms(batch, rates, False)[2]))
  model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=30,
            epochs=1, verbose=0)
  after = float(tf.reduce_mean(model.rd_terms(batch, rates, False)[2]))
  assert after < 0.8 * before


def test_psnr_rises_with_every_layer_of_the_shipped_model(sample):
  """The trained zoo model on the shipped Kodak image: each layer of one
  file improves the picture."""
  names = [n for n in zoo.names() if "rnn" in n and "@" not in n]
  assert names, "no scalable_rnn model in the zoo"
  codec = zoo.load(names[0])
  data = coding.encode(codec, sample)
  psnrs = [metrics.psnr(sample, coding.decode(codec, data, layers=k))
           for k in range(1, codec.max_layers + 1)]
  assert all(b > a for a, b in zip(psnrs, psnrs[1:])), psnrs
