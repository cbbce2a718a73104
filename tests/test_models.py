"""The model contract, on the shipped baseline."""

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import models


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
