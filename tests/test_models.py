"""The model contract, on the shipped baseline."""

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import models
from tfvrc.entropy import conditionals


def rd_loss(model, image):
  """RD terms of a `CompressionModel` at its default rate."""
  x = tf.cast(image[None], tf.float32)
  rate = tf.fill([1], np.float32(model.default_rate))
  bpp, mse, loss = model.rd_terms(x, rate, training=False)
  return float(loss[0]), float(bpp[0]), float(mse[0])


def test_trained_model_beats_untrained(model, sample):
  tf.keras.utils.set_random_seed(0)
  untrained = models.create(model.model.family, **model.model.get_config())
  trained_loss, trained_bpp, trained_mse = rd_loss(model.model, sample)
  untrained_loss, _, untrained_mse = rd_loss(untrained, sample)
  assert trained_loss < 0.5 * untrained_loss
  assert trained_mse < untrained_mse
  assert 0 < trained_bpp < 4


def test_rate_contract(model):
  lo, hi = model.rate_range
  assert lo <= model.default_rate <= hi
  rates = model.model.sample_rates(5).numpy()
  assert rates.shape == (5,)
  assert np.all((rates >= np.float32(lo)) & (rates <= np.float32(hi)))
  assert np.all(model.model.lmbda(tf.constant(rates)).numpy() > 0)


def test_compress_function_refuses_rates_out_of_range(model, sample):
  """The traced function checks too, so a SavedModel user can't bypass it."""
  lo, hi = model.rate_range
  for rate in (lo - 0.5, hi + 0.5):
    with pytest.raises(tf.errors.InvalidArgumentError, match="rate"):
      model.compress(sample[:16, :16], np.float32(rate))


def test_unknown_family_is_refused():
  with pytest.raises(ValueError, match="unknown model family"):
    models.create("nope")


def test_a_config_key_that_does_not_apply_is_refused():
  with pytest.raises(ValueError, match="gain_init does not apply to the "
                     "modulated family"):
    models.create("modulated", gain_init="ones")
  with pytest.raises(ValueError, match="lmbdas does not apply"):
    models.create("hyperprior", lmbdas=[0.01, 0.1])


@pytest.mark.parametrize("name", sorted(conditionals.CONDITIONALS))
def test_mixed_quantization_trains_the_synthesis_on_the_coded_values(name):
  """With `rounded`, training hands the synthesis what the coder decodes
  (y - mean rounded, plus the mean) and passes y's gradient straight
  through; without it, y plus noise. The bits are the noisy y's either way."""
  conditional = conditionals.conditional(name)(compression=False)
  rng = np.random.default_rng(0)
  y = tf.constant(rng.normal(0., 3., (1, 4, 4, 2)), tf.float32)
  params = tf.constant(
      rng.uniform(-1., 1., (1, 4, 4, 2 * conditional.num_params)), tf.float32)
  means = conditional._split(params)[0]  # pylint: disable=protected-access
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(y)
    y_hat, bits = conditional(y, params, training=True, rounded=True)
    noisy, _ = conditional(y, params, training=True)
  np.testing.assert_array_equal(
      y_hat.numpy(), (tf.round(y - means) + means).numpy())
  assert not np.allclose(noisy.numpy(), y_hat.numpy())
  np.testing.assert_array_equal(tape.gradient(y_hat, y).numpy(), 1.)
  assert np.any(tape.gradient(bits, y).numpy() != 0)
  evaluated, _ = conditional(y, params, training=False, rounded=True)
  np.testing.assert_array_equal(evaluated.numpy(), y_hat.numpy())
