"""The checkerboard context (`latent_codecs.checkerboard`) in the hyperprior
and gained families: real files round-trip, the context is what it claims
(anchors first, the rest from them), a model with it starts as the model it
is initialised from, and it codes through the serving split."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import coding
from tfvrc import models
from tfvrc import zoo
from tfvrc.latent_codecs import checkerboard
from tfvrc.layers import fixed_point
from tfvrc.serving import backends
from tfvrc.serving import client
from tfvrc.serving import signatures

from conftest import ROOT
from conftest import random_image
from test_fixed_point import assert_exact

CONFIG = dict(lmbdas=[0.001, 0.01, 0.1], num_filters=16, latent_depth=24)


def with_context(seed=0, family="gained", **config):
  """A model with a checkerboard context whose correction is not zero (it
  starts at zero), its coders built."""
  tf.keras.utils.set_random_seed(seed)
  model = models.create(family, context="checkerboard", **(config or CONFIG))
  for w in model.hyperprior_codec.refine.trainable_weights:
    w.assign(tf.random.normal(w.shape, stddev=0.3))
  model.build_coders()
  return model


@pytest.fixture(scope="module")
def model():
  return with_context()


@pytest.fixture(scope="module")
def image():
  return random_image(70, 90, seed=3)  # a latent of 5 x 6: odd and even


def test_halves_merge_back():
  shape = tf.constant([5, 6])
  x = tf.reshape(tf.range(30 * 2), [1, 5, 6, 2])
  anchors = checkerboard.half(x, shape, anchors=True)
  others = checkerboard.half(x, shape, anchors=False)
  assert anchors.shape == others.shape == (1, 1, 15, 2)
  np.testing.assert_array_equal(checkerboard.merge(shape, anchors, others), x)
  mask = checkerboard.anchor_mask(shape)[0, :, :, 0].numpy()
  assert mask[0, 0] and not mask[0, 1] and not mask[1, 0] and mask[1, 1]


@pytest.mark.parametrize("rate", [0., 1.3, 2.])
def test_files_round_trip_bit_exactly(model, image, rate):
  codec = coding.Codec.of(model, "checkerboard")
  data = coding.encode(codec, image, rate)
  decoded = coding.decode(codec, data)
  expected, _ = model.reconstruct(image, rate)
  np.testing.assert_array_equal(decoded, expected.numpy())


def test_the_fixed_rate_family_takes_it_too(image):
  model = with_context(family="hyperprior", lmbda=0.01, num_filters=16,
                       latent_depth=24)
  codec = coding.Codec.of(model, "fixed-rate-checkerboard")
  data = coding.encode(codec, image, 0.01)
  expected, _ = model.reconstruct(image, 0.01)
  np.testing.assert_array_equal(coding.decode(codec, data), expected.numpy())


def test_three_strings_the_anchors_decoded_before_the_rest(model, image):
  x = tf.cast(image, tf.float32)[None]
  y = model.analysis_transform(x)
  codec = model.latent_codec
  coded, _ = codec.symbols(y, tf.constant([1.]))
  assert model.num_strings == len(coded) == 3
  shape = tf.shape(y)[1:3]
  _, anchors, side = (symbols for symbols, _ in coded)
  anchor_indexes = codec.decode_indexes((side,), shape, tf.constant([1.]))
  np.testing.assert_array_equal(anchor_indexes, coded[1][1])
  other_indexes = codec.decode_indexes((anchors, side), shape,
                                       tf.constant([1.]))
  np.testing.assert_array_equal(other_indexes, coded[0][1])
  # The rest's tables depend on the anchors' values, the anchors' do not.
  changed = codec.decode_indexes((anchors + 3, side), shape,
                                 tf.constant([1.]))
  assert not np.array_equal(changed, other_indexes)


def test_starts_as_the_model_it_is_initialised_from(image, tmp_path):
  tf.keras.utils.set_random_seed(1)
  path = str(tmp_path / "plain.npz")
  zoo.save(models.create("gained", **CONFIG), path, steps=0)
  plain = zoo.load_file(path).model
  model = models.create("gained", context="checkerboard", **CONFIG)
  zoo.init_from(model, path)
  model.build_coders()
  for rate in (0., 2.):
    expected, expected_bits = plain.reconstruct(image, rate)
    got, bits = model.reconstruct(image, rate)
    np.testing.assert_array_equal(got, expected)
    assert bits.numpy() == expected_bits.numpy()


def test_a_context_is_not_widened(tmp_path):
  """Widening fills leading channels; the correction's inputs are
  [parameters, context], so a wider model would mix them up."""
  path = str(tmp_path / "narrow.npz")
  zoo.save(models.create("gained", context="checkerboard", **CONFIG), path,
           steps=0)
  wider = models.create("gained", context="checkerboard",
                        **dict(CONFIG, latent_depth=32))
  with pytest.raises(ValueError, match="cannot be widened"):
    zoo.init_from(wider, path)


def test_the_correction_learns_from_the_start():
  """The correction's last layer starts at zero, but not its gradient."""
  tf.keras.utils.set_random_seed(2)
  model = models.create("gained", context="checkerboard", **CONFIG)
  model.hyperprior_codec.rounded_synthesis_input = True
  x = tf.constant(random_image(64, 64, seed=4)[None], tf.float32)
  last = model.hyperprior_codec.refine.layers[-1].kernel
  with tf.GradientTape() as tape:
    _, _, loss = model.rd_terms(x, tf.constant([2.]), training=True)
  gradient = tape.gradient(loss, last)
  assert np.abs(gradient.numpy()).max() > 0


def test_codes_through_the_serving_split(model, image, tmp_path):
  codec = coding.Codec.of(model, "checkerboard")
  remote = client.Client(backends.Local(
      signatures.export(codec, str(tmp_path))))
  for rate in (0., 2.):
    data = coding.encode(remote, image, rate)
    assert data == coding.encode(codec, image, rate)
    np.testing.assert_array_equal(coding.decode(remote, data),
                                  coding.decode(codec, data))


def test_unknown_context_is_refused():
  with pytest.raises(ValueError, match="context must be one of"):
    models.create("hyperprior", num_filters=8, latent_depth=12,
                  context="raster")


def test_context_and_correction_are_exact_integer_arithmetic(model):
  codec = model.hyperprior_codec
  rng = np.random.default_rng(5)
  for network, channels in ((codec.context, 24), (codec.refine, 72)):
    x = tf.constant(rng.normal(0, 8, (1, 5, 6, channels)), tf.float32)
    assert_exact(fixed_point.FixedPointSequential(network),
                 fixed_point.to_units(x))


DECODE = """
import sys
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
from tfvrc import coding, zoo
weights, path, out = sys.argv[1:]
np.save(out, coding.decode(zoo.load_file(weights), open(path, "rb").read()))
"""


def test_files_decode_with_onednn_off_and_one_thread(image, tmp_path):
  """The tables come from fixed-point networks, so a file written here
  (oneDNN as the machine has it, all threads) decodes the same without."""
  weights = str(tmp_path / "checkerboard.npz")
  zoo.save(with_context(seed=6), weights, steps=0)
  codec = zoo.load_file(weights)
  path, out = str(tmp_path / "image.tfvrc"), str(tmp_path / "pixels.npy")
  with open(path, "wb") as f:
    f.write(coding.encode(codec, image, 2.))
  env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONPATH=ROOT)
  result = subprocess.run([sys.executable, "-c", DECODE, weights, path, out],
                          env=env, capture_output=True, text=True,
                          timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  with open(path, "rb") as f:
    np.testing.assert_array_equal(np.load(out), coding.decode(codec, f.read()))
