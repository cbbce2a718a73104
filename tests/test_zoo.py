"""Zoo entries: published coder tables match the weights; bad files refused;
starting a model from a narrower one."""

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import models, zoo


def test_default_model_is_shipped_with_its_tables():
  assert zoo.DEFAULT_MODEL in zoo.names()
  with np.load(zoo.path_of(zoo.DEFAULT_MODEL)) as f:
    assert any(k.startswith("table_") for k in f.files)


def test_published_tables_equal_tables_rebuilt_from_the_weights(model):
  shipped = model.coder_tables()
  rebuilt = models.create(model.family, **model.get_config())
  for target, source in zip(rebuilt.trainable_weights, model.trainable_weights):
    target.assign(source)
  rebuilt.build_coders()  # the slow search, from the same float16 weights
  for key, value in rebuilt.coder_tables().items():
    np.testing.assert_array_equal(shipped[key], value)


def test_save_and_load_round_trip(model, tmp_path):
  zoo.save(model, str(tmp_path / "copy"), steps=7, notes="test",
           tables=model.coder_tables())
  loaded = zoo.load(str(tmp_path / "copy.npz"))
  assert loaded.codec_name == "copy"
  assert loaded.zoo_meta["steps"] == 7
  assert loaded.digest == model.digest


def test_bad_names_and_files(tmp_path):
  with pytest.raises(ValueError, match="unknown model"):
    zoo.load("no-such-model")
  (tmp_path / "junk.npz").write_bytes(b"not a zip")
  with pytest.raises(ValueError, match="not a tfvrc weights file"):
    zoo.load(str(tmp_path / "junk.npz"))


def test_a_wider_model_starts_as_the_narrower_one(tmp_path):
  """init_from into more latent channels: up to float rounding, the same
  reconstruction and the same entropy parameters for the old channels (means
  and scales each in their own block); the new channels are coded, so the
  bits grow."""
  lmbdas = [0.001, 0.01, 0.1]
  narrow = models.create("gained", lmbdas=lmbdas, num_filters=8,
                         latent_depth=12)
  rng = np.random.default_rng(0)
  for w in narrow.trainable_weights:  # away from the initial values
    w.assign(w + rng.normal(0, .05, w.shape).astype(np.float32))
  zoo.save(narrow, str(tmp_path / "narrow"), steps=1)
  narrow = zoo.load_file(str(tmp_path / "narrow.npz"))  # float16 values
  wide = models.create("gained", lmbdas=lmbdas, num_filters=8,
                       latent_depth=24)
  zoo.init_from(wide, str(tmp_path / "narrow.npz"))
  x = tf.constant(rng.uniform(0, 255, (1, 64, 48, 3)), tf.float32)
  for rate in (0., 1.4, 2.):
    rate = tf.constant([rate])
    (x_narrow, bits_narrow), (x_wide, bits_wide) = (
        m.forward(x, rate, training=False) for m in (narrow, wide))
    np.testing.assert_allclose(x_wide.numpy(), x_narrow.numpy(), atol=1e-3)
    assert float(tf.reduce_sum(bits_wide)) > float(tf.reduce_sum(bits_narrow))
    y_narrow, y_wide = narrow.analysis(x, rate), wide.analysis(x, rate)
    np.testing.assert_allclose(y_wide[..., :12].numpy(), y_narrow.numpy(),
                               atol=1e-5)
    params_narrow, params_wide = (
        m.hyper_synthesis(tf.round(m.hyper_analysis(y, rate)), rate,
                          tf.shape(y)[1:3])
        for m, y in ((narrow, y_narrow), (wide, y_wide)))
    np.testing.assert_allclose(params_wide[..., :12].numpy(),
                               params_narrow[..., :12].numpy(), atol=1e-5)
    np.testing.assert_allclose(params_wide[..., 24:36].numpy(),
                               params_narrow[..., 12:].numpy(), atol=1e-5)
  with pytest.raises(ValueError, match="does not fit"):  # narrower: refused
    zoo.init_from(models.create("gained", lmbdas=lmbdas, num_filters=8,
                                latent_depth=8), str(tmp_path / "narrow.npz"))
