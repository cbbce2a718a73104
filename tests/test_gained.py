"""Gain units, the gained model's rate handling (untrained weights), and the
shipped default gained model."""

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import bitstream, coding, io, metrics
from tfvrc.layers.gain import GainUnit
from tfvrc.models.gained import GainedHyperprior
from conftest import random_image


@pytest.fixture(scope="module")
def unit():
  unit = GainUnit(4, 5)
  unit.gains.assign(np.random.default_rng(0).uniform(0.2, 3., (4, 5)) *
                    np.sign(np.random.default_rng(1).uniform(-1, 1, (4, 5))))
  return unit


def test_integer_rates_give_the_level_gains_exactly(unit):
  vectors = unit.vectors(tf.constant([0., 1., 2., 3.])).numpy()
  np.testing.assert_array_equal(vectors, np.abs(unit.gains.numpy()))


def test_interpolation_is_exponential_between_adjacent_levels(unit):
  gains = np.abs(unit.gains.numpy())
  vectors = unit.vectors(tf.constant([1.5, 2.25])).numpy()
  np.testing.assert_allclose(vectors[0], np.sqrt(gains[1] * gains[2]),
                             rtol=1e-6)
  np.testing.assert_allclose(vectors[1], gains[2] ** .75 * gains[3] ** .25,
                             rtol=1e-6)


def test_gain_unit_needs_two_levels():
  with pytest.raises(ValueError, match="at least 2 levels"):
    GainUnit(1, 3)


@pytest.fixture(scope="module")
def gained():
  tf.keras.utils.set_random_seed(3)
  model = GainedHyperprior(lmbdas=(0.002, 0.01, 0.05), num_filters=16,
                           latent_depth=24)
  model.build_coders()
  return coding.Codec.of(model, "gained-test")


def test_lambda_per_rate(gained):
  lmbdas = gained.model.lmbda(tf.constant([0., 1., 2., .5])).numpy()
  np.testing.assert_allclose(lmbdas[:3], [0.002, 0.01, 0.05], rtol=1e-6)
  np.testing.assert_allclose(lmbdas[3], np.sqrt(0.002 * 0.01), rtol=1e-5)
  levels = gained.model.sample_rates(64).numpy()
  assert set(levels) <= {0., 1., 2.} and len(set(levels)) > 1


def test_round_trip_at_a_rate_between_levels(gained):
  image = random_image(40, 56, seed=5)
  data = coding.encode(gained, image, rate=1.3)
  header, _ = bitstream.unpack(data)
  assert header.rate == pytest.approx(1.3, rel=1e-6)
  expected, _ = gained.reconstruct(image, np.float32(1.3))
  np.testing.assert_array_equal(coding.decode(gained, data), expected.numpy())
  with pytest.raises(ValueError, match="outside the range"):
    coding.encode(gained, image, rate=2.5)


def test_target_bpp_is_never_exceeded(gained, sample):
  image = sample[:96, :128]
  lowest = len(coding.encode(gained, image, 0.)) * 8 / image[..., 0].size
  highest = len(coding.encode(gained, image, 2.)) * 8 / image[..., 0].size
  for target in np.linspace(lowest, highest, 4)[1:]:
    data, rate, bpp, _ = coding.encode_to_target(gained, image, max_bpp=target)
    assert bpp <= target
    assert len(data) * 8 / image[..., 0].size == bpp
    assert coding.read_header(data).rate == pytest.approx(rate, rel=1e-6)
  with pytest.raises(ValueError, match="no rate"):
    coding.encode_to_target(gained, image, max_bpp=lowest / 2)


def test_target_psnr_is_reached(gained, sample):
  image = sample[:96, :128]
  # Any target at most what the lowest rate gives is reachable.
  lowest_rate_psnr = coding.encode_to_target(gained, image, min_psnr=0.)[3]
  for target in (lowest_rate_psnr, lowest_rate_psnr - 1.):
    _, _, _, psnr = coding.encode_to_target(gained, image, min_psnr=target)
    assert psnr >= target
  with pytest.raises(ValueError, match="no rate"):
    coding.encode_to_target(gained, image, min_psnr=99.)


# --- The shipped default model (trained, gained) -------------------------------


def test_default_model_is_gained(model):
  assert model.model.family == "gained"
  assert model.rate_range == (0., len(model.model.lmbdas) - 1.)


def test_file_size_grows_strictly_with_the_rate(model, sample):
  """On a Kodak image (the shipped kodim23), over 8 rates."""
  lo, hi = model.rate_range
  sizes = [len(coding.encode(model, sample, r))
           for r in np.linspace(lo, hi, 8)]
  assert all(a < b for a, b in zip(sizes, sizes[1:])), sizes


@pytest.mark.slow
def test_default_model_spans_015_to_1_bpp_on_kodak(model, kodak):
  images = [io.read_image(path) for path in kodak]
  lo, hi = model.rate_range
  mean_bpp = [np.mean([metrics.bpp(len(coding.encode(model, x, r)), x.shape)
                       for x in images]) for r in (lo, hi)]
  assert mean_bpp[0] <= 0.15 and mean_bpp[1] >= 1.0, mean_bpp


@pytest.mark.slow  # about a hundred codings of Kodak images
def test_target_bpp_is_never_exceeded_on_kodak(model, kodak):
  for path in kodak[:4]:
    image = io.read_image(path)
    for target in (0.25, 0.6):
      data, _, bpp, _ = coding.encode_to_target(model, image, max_bpp=target)
      assert bpp <= target
      assert bpp == metrics.bpp(len(data), image.shape)
      # Close to the target: within the spread of the bisection's last step.
      assert bpp > 0.9 * target


def test_gains_start_from_the_lambdas():
  """gain_init="lambda": sqrt(lambda_s / geometric mean), inverse 1 / that;
  "ones" keeps the units at one."""
  model = GainedHyperprior(lmbdas=(0.001, 0.004, 0.016), num_filters=8,
                           latent_depth=12)
  np.testing.assert_allclose(model.latent_gains[0].gains.numpy()[:, 0], [0.5, 1., 2.],
                             rtol=1e-6)
  np.testing.assert_allclose(model.latent_gains[1].gains.numpy()[:, 0],
                             [2., 1., .5], rtol=1e-6)
  ones = GainedHyperprior(lmbdas=(0.001, 0.004), num_filters=8,
                          latent_depth=12, gain_init="ones")
  np.testing.assert_array_equal(ones.latent_gains[0].gains.numpy(), 1.)
  with pytest.raises(ValueError, match="gain_init"):
    GainedHyperprior(lmbdas=(0.001, 0.004), gain_init="random")
