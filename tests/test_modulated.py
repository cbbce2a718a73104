"""Modulated autoencoders: modulation networks, the lambda knob, the three
lambda-driven families and their bitstreams."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import random_image
from tfvrc import bitstream
from tfvrc import coding
from tfvrc import models
from tfvrc import zoo
from tfvrc.layers import modulation
from tfvrc.layers import transforms

LMBDAS = (0.002, 0.01, 0.05)
SHIPPED = "modulated-mse"


def small(family, **config):
  model = models.create(family, num_filters=8, latent_depth=12,
                        lmbdas=LMBDAS, **config)
  model.build_coders()
  return model


def test_modulation_is_positive_and_differentiable_in_lambda():
  mlp = modulation.ModulationMLP(16, lmbda_norm=0.05)
  lmbda = tf.constant([0.001, 0.01, 0.05, 0.2])
  with tf.GradientTape() as tape:
    tape.watch(lmbda)
    scales = mlp(lmbda)
  assert scales.shape == (4, 16)
  assert np.all(scales.numpy() > 0)
  gradient = tape.gradient(scales, lmbda).numpy()
  assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)


def test_unit_scales_leave_a_transform_unchanged():
  separate = transforms.AnalysisTransform(8, 12, separate_gdn=True)
  x = tf.random.uniform([2, 32, 32, 3], 0, 255)
  channels = modulation.gdn_channels(separate, 3)
  assert channels == [8, 8, 8]
  ones = [tf.ones([2, c]) for c in channels]
  np.testing.assert_array_equal(
      modulation.run_modulated(separate, x, ones).numpy(), separate(x).numpy())
  doubled = modulation.run_modulated(separate, x,
                                     [2 * s for s in ones[:1]] + ones[1:])
  assert not np.allclose(doubled.numpy(), separate(x).numpy())
  with pytest.raises(ValueError, match="3 GDNs, got 2"):
    modulation.run_modulated(separate, x, ones[:2])


def test_modulation_fits_a_log_scale_curve():
  """`fit_log_scales`: every channel follows the curve over the range and
  stays at its low end below it."""
  mlp = modulation.ModulationMLP(4, lmbda_norm=0.05)
  curve = lambda l: 0.5 * np.log(l / 0.007)
  mlp.fit_log_scales((0.001, 0.05), curve)
  lmbdas = np.geomspace(0.001, 0.05, 9)
  np.testing.assert_allclose(np.log(mlp(lmbdas).numpy()),
                             np.repeat(curve(lmbdas)[:, None], 4, axis=1),
                             atol=5e-3)
  np.testing.assert_allclose(np.log(mlp(np.array([1e-4])).numpy()),
                             curve(0.001), atol=5e-3)


def log_scales(mlp, lmbdas):
  return np.log(mlp(np.array(lmbdas)).numpy())


@pytest.mark.parametrize("family", ["modulated", "modulated-factorized"])
def test_modulation_starts_from_the_lambdas(family):
  """modulation_init="lambda": the last analysis modulation scales like a
  latent gain, sqrt(lambda / geometric mean), the first demodulation like its
  inverse, the others are one; "glorot" keeps the original's random MLPs."""
  def create(**config):  # no coders: only the MLPs are looked at
    return models.create(family, num_filters=8, latent_depth=12,
                         lmbdas=LMBDAS, **config)

  model = create()
  expected = 0.5 * np.log(np.array(LMBDAS) / 0.01)[:, None]
  np.testing.assert_allclose(
      log_scales(model.modulation[-1], LMBDAS) - expected, 0., atol=5e-3)
  np.testing.assert_allclose(
      log_scales(model.demodulation[0], LMBDAS) + expected, 0., atol=5e-3)
  for mlp in model.modulation[:-1] + model.demodulation[1:]:
    np.testing.assert_allclose(log_scales(mlp, LMBDAS), 0., atol=1e-6)
  glorot = create(modulation_init="glorot")
  assert np.abs(log_scales(glorot.modulation[-1], LMBDAS)
                - expected).max() > 0.1
  with pytest.raises(ValueError, match="modulation_init"):
    create(modulation_init="ones")


def test_modulated_model_starts_from_a_trained_baseline(baseline, sample):
  """`zoo.init_from` puts the baseline's weights into the MAE's separate GDN
  layers; then the modulation is the identity at the baseline's lambda, so
  the MAE codes like the baseline there, and fewer bits below it."""
  config = baseline.model.get_config()
  model = models.create("modulated", num_filters=config["num_filters"],
                        latent_depth=config["latent_depth"],
                        lmbdas=(0.001, 0.05))
  zoo.init_from(model, zoo.path_of(zoo.BASELINE_MODEL))
  model.build_coders()
  reference, reference_bits = baseline.reconstruct(sample,
                                                    baseline.default_rate)
  decoded, bits = model.reconstruct(sample, config["lmbda"])
  assert abs(float(bits) / float(reference_bits) - 1) < 0.01
  assert np.abs(decoded.numpy().astype(float)
                - reference.numpy()).mean() < 0.5
  _, low_bits = model.reconstruct(sample, 0.001)
  assert float(low_bits) < 0.75 * float(bits)


def test_scaled_bottleneck_scales_start_from_the_baseline_lambda():
  model = models.create("scaled-bottleneck", num_filters=8, latent_depth=12,
                        lmbdas=LMBDAS)
  model.start_from_baseline({"lmbda": 0.05})
  expected = np.sqrt(np.array(LMBDAS) / 0.05)
  scale, inverse_scale = model.latent_gains
  np.testing.assert_allclose(scale.gains.numpy()[:, 0], expected, rtol=1e-6)
  np.testing.assert_allclose(inverse_scale.gains.numpy()[:, 0], 1 / expected,
                             rtol=1e-6)
  ones = models.create("scaled-bottleneck", num_filters=8, latent_depth=12,
                       lmbdas=LMBDAS, gain_init="ones")
  ones.start_from_baseline({"lmbda": 0.05})
  np.testing.assert_array_equal(ones.latent_gains[0].gains.numpy(), 1.)


@pytest.fixture(scope="module")
def factorized():
  """A small factorized MAE whose bottlenecks differ (as trained ones do)."""
  model = models.create("modulated-factorized", num_filters=8,
                        latent_depth=12, lmbdas=LMBDAS)
  for i, prior in enumerate(model.priors):
    for w in prior.trainable_variables:
      w.assign(w + 0.3 * i)
  model.build_coders()
  return coding.Codec.of(model, "factorized")


def test_factorized_transforms_have_the_original_layout(factorized):
  model = factorized.model
  assert modulation.gdn_channels(model.analysis_transform, 3) == [8, 8, 12]
  assert modulation.gdn_channels(model.synthesis_transform, 12) == [12, 8, 8]
  first = model.analysis_transform.layers[1]
  assert first.kernel_support == (9, 9) and first.strides_down == (4, 4)
  assert len(model.modulation) == len(model.demodulation) == 3
  assert len(model.priors) == len(LMBDAS)


def test_joint_training_codes_the_batch_at_every_lambda():
  model = small("modulated")
  x = tf.random.uniform([2, 16, 16, 3])
  tiled, rates = model.training_batch(x)
  assert tiled.shape == (6, 16, 16, 3)
  np.testing.assert_allclose(rates.numpy(), np.repeat(LMBDAS, 2), rtol=1e-6)
  sampled = small("modulated", training="sample")
  x_same, rates = sampled.training_batch(x)
  assert x_same.shape == x.shape
  assert np.all(np.isclose(rates.numpy()[:, None], LMBDAS).any(axis=1))


def test_lambda_levels_are_log_linear():
  model = small("scaled-bottleneck")
  levels = model.level(tf.constant(
      [0.002, 0.01, 0.05, np.sqrt(0.002 * 0.01)])).numpy()
  np.testing.assert_allclose(levels, [0, 1, 2, 0.5], atol=1e-6)


@pytest.mark.parametrize("family", ["modulated", "scaled-bottleneck"])
def test_round_trip_at_a_lambda_between_trained_points(family):
  codec = coding.Codec.of(small(family), family)
  image = random_image(40, 56)
  lmbda = 0.0042  # between 0.002 and 0.01
  data = coding.encode(codec, image, lmbda)
  assert coding.read_header(data).rate == pytest.approx(lmbda)
  expected, _ = codec.reconstruct(tf.constant(image),
                                  tf.constant(lmbda, tf.float32))
  np.testing.assert_array_equal(coding.decode(codec, data), expected.numpy())


def test_factorized_codes_each_trained_lambda_with_its_own_bottleneck(
    factorized):
  model = factorized
  image = random_image(33, 47)
  streams = set()
  for lmbda in LMBDAS:
    data = coding.encode(model, image, lmbda)
    expected, _ = model.reconstruct(tf.constant(image),
                                    tf.constant(lmbda, tf.float32))
    np.testing.assert_array_equal(coding.decode(model, data),
                                  expected.numpy())
    streams.add(bitstream.unpack(data)[1][0][0])
  assert len(streams) == len(LMBDAS)


def test_factorized_refuses_a_lambda_it_was_not_trained_for(factorized):
  model = factorized
  image = random_image(16, 16)
  with pytest.raises(ValueError, match=r"codes only at the rates it was "
                     r"trained for \(0.002, 0.01, 0.05\), not at 0.005"):
    coding.encode(model, image, 0.005)
  with pytest.raises(tf.errors.InvalidArgumentError, match="rate points"):
    model.compress(tf.constant(image), tf.constant(0.005))


def test_scaled_bottleneck_trains_only_its_scales():
  model = models.create("scaled-bottleneck", num_filters=8, latent_depth=12,
                        lmbdas=LMBDAS)
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
  before = [w.numpy().copy() for w in model.trainable_weights]
  model.train_step(tf.random.uniform([2, 32, 32, 3], 0, 255))
  changed = [w is unit.gains for w, b in zip(model.trainable_weights, before)
             if not np.array_equal(w.numpy(), b)
             for unit in model.latent_gains]
  assert changed.count(True) == 2 and len(changed) == 4


def test_refuses_bad_lambda_sets():
  with pytest.raises(ValueError, match="two or more positive"):
    models.create("modulated", lmbdas=[0.01])
  with pytest.raises(ValueError, match="training must be one of"):
    models.create("modulated", lmbdas=LMBDAS, training="both")


@pytest.fixture(scope="module")
def shipped():
  if SHIPPED not in zoo.names():
    pytest.fail(f"zoo model {SHIPPED} is missing")
  model = zoo.load(SHIPPED)
  return model


def test_shipped_model_rate_is_monotone_and_wide_in_lambda(shipped, sample):
  """File size strictly grows with lambda over the shipped range, by more
  than 4x from end to end (an MAE whose modulation has not learned to vary
  the rate spans a few percent)."""
  lo, hi = shipped.rate_range
  sizes = [len(coding.encode(shipped, sample, l))
           for l in np.geomspace(lo, hi, 8)]
  assert all(a < b for a, b in zip(sizes, sizes[1:])), sizes
  assert sizes[-1] > 4 * sizes[0], sizes


def test_savedmodel_keeps_the_rate_points(factorized, tmp_path):
  """The exported factorized MAE codes its lambdas and refuses others."""
  from tfvrc import export  # pylint: disable=import-outside-toplevel
  export.export(factorized, str(tmp_path / "saved"))
  codec = export.SavedModelCodec(str(tmp_path / "saved"))
  np.testing.assert_allclose(codec.rate_points, LMBDAS, rtol=1e-6)
  image = random_image(24, 40)
  data = coding.encode(codec, image, LMBDAS[1])
  assert data == coding.encode(factorized, image, LMBDAS[1])
  with pytest.raises(ValueError, match="codes only at the rates"):
    coding.encode(codec, image, 0.02)
