"""The asymmetric Gaussian prior and its range coding."""

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import coding
from tfvrc.entropy.asymmetric import AsymmetricNormal, noisy_asymmetric_normal
from tfvrc.models.gained import GainedHyperprior
from conftest import random_image

LOC, LEFT, RIGHT = 0.3, 0.7, 2.5


def test_cdf_is_continuous_at_the_mean():
  d = AsymmetricNormal(LOC, LEFT, RIGHT)
  eps = 1e-4
  below, at, above = d.cdf([LOC - eps, LOC, LOC + eps]).numpy()
  assert at == pytest.approx(LEFT / (LEFT + RIGHT), abs=1e-6)
  assert below == pytest.approx(at, abs=1e-3)
  assert above == pytest.approx(at, abs=1e-3)
  np.testing.assert_allclose(d.survival_function([-1., 2.]).numpy(),
                             1. - d.cdf([-1., 2.]).numpy(), atol=1e-6)


def test_density_integrates_to_one_and_matches_the_cdf():
  d = AsymmetricNormal(LOC, LEFT, RIGHT)
  x = np.linspace(-20., 30., 200001)
  pdf = d.prob(x).numpy()
  assert np.trapz(pdf, x) == pytest.approx(1., abs=1e-5)
  cdf = d.cdf(x).numpy()
  np.testing.assert_allclose(np.gradient(cdf, x)[1:-1], pdf[1:-1], atol=1e-3)


def test_quantile_inverts_the_cdf():
  d = AsymmetricNormal(LOC, LEFT, RIGHT)
  p = np.array([1e-4, 0.05, LEFT / (LEFT + RIGHT), 0.5, 0.9, 1 - 1e-4],
               np.float32)
  np.testing.assert_allclose(d.cdf(d.quantile(p)).numpy(), p, rtol=1e-4)


def test_pmf_sums_to_one():
  symbols = np.arange(-60., 61.)
  pmf = noisy_asymmetric_normal(LOC, LEFT, RIGHT).prob(symbols).numpy()
  assert pmf.sum() == pytest.approx(1., abs=1e-6)
  cdf = AsymmetricNormal(LOC, LEFT, RIGHT).cdf
  np.testing.assert_allclose(pmf, cdf(symbols + .5) - cdf(symbols - .5),
                             atol=1e-7)


def test_likelihood_gradients_are_finite_everywhere():
  """Far from the mean on either side, for narrow and wide scales alike."""
  x = np.linspace(-300., 300., 61, dtype=np.float32)[:, None, None]
  scales = np.geomspace(0.11, 256., 8).astype(np.float32)
  left = tf.Variable(scales[:, None])
  right = tf.Variable(scales[None, :])
  with tf.GradientTape() as tape:
    log_prob = noisy_asymmetric_normal(0., left, right).log_prob(x)
    loss = tf.reduce_sum(log_prob)
  assert np.all(np.isfinite(log_prob.numpy()))
  for gradient in tape.gradient(loss, [left, right]):
    assert np.all(np.isfinite(gradient.numpy()))


@pytest.fixture(scope="module")
def asymmetric_model():
  tf.keras.utils.set_random_seed(7)
  model = GainedHyperprior(lmbdas=(0.002, 0.02), num_filters=16,
                           latent_depth=16, entropy_model="asymmetric")
  model.build_coders()
  return coding.Codec.of(model, "asym-test")


def test_round_trip_is_bit_exact(asymmetric_model):
  image = random_image(48, 40, seed=11)
  for rate in (0., 0.6):
    data = coding.encode(asymmetric_model, image, rate)
    expected, _ = asymmetric_model.reconstruct(image, np.float32(rate))
    np.testing.assert_array_equal(coding.decode(asymmetric_model, data),
                                  expected.numpy())
