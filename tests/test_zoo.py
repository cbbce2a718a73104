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
  shipped = model.model.coder_tables()
  rebuilt = models.create(model.model.family, **model.model.get_config())
  for target, source in zip(rebuilt.trainable_weights,
                            model.model.trainable_weights):
    target.assign(source)
  rebuilt.build_coders()  # the slow search, from the same float16 weights
  for key, value in rebuilt.coder_tables().items():
    if key.endswith("quantization_offset"):
      # A float median found by a search, which stops at a tolerance: it
      # differs between AVX2 and AVX-512 CPUs (seen: 1.6e-5 of a quantization
      # step, in narrow channels), one reason the tables are shipped. 7,000
      # steps of training moved 110 of gained-mse's 128 medians by more
      # than this tolerance.
      np.testing.assert_allclose(shipped[key], value, rtol=0, atol=1e-4)
    else:
      np.testing.assert_array_equal(shipped[key], value)


def test_save_and_load_round_trip(baseline, tmp_path):
  """The shipped baseline is a positional (legacy) file: saved keyed by name
  and loaded back, it keeps its weights and tables, and its digest is that of
  its weights in model order."""
  with np.load(zoo.path_of(zoo.BASELINE_MODEL)) as f:
    assert "w000" in f.files
  zoo.save(baseline.model, str(tmp_path / "copy"), steps=7, notes="test",
           tables=baseline.model.coder_tables())
  with np.load(str(tmp_path / "copy.npz")) as f:
    assert all(k.startswith(("w/", "table_")) or k == "meta" for k in f.files)
    assert "w/analysis/layer_0/kernel_real" in f.files
  loaded = zoo.load(str(tmp_path / "copy.npz"))
  assert loaded.codec_name == "copy"
  assert loaded.meta["steps"] == 7
  assert loaded.digest == baseline.model.weights_digest()
  for a, b in zip(loaded.model.trainable_weights,
                  baseline.model.trainable_weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_publish_counts_the_history_of_a_continued_run(tmp_path):
  """A run that trained a model further becomes an entry with the tables of
  its own weights, and the steps and notes of both runs."""
  model = models.create("gained", lmbdas=[0.001, 0.01], num_filters=8,
                        latent_depth=8)
  zoo.save(model, str(tmp_path / "before"), steps=1000, notes="first run.")
  model.trainable_weights[0].assign_add(
      tf.fill(model.trainable_weights[0].shape, 0.01))
  zoo.save(model, str(tmp_path / "run"), steps=250, notes="--seed=2")
  run = zoo.load(str(tmp_path / "run.npz"))  # tables from the search
  path = zoo.publish(str(tmp_path / "run.npz"), str(tmp_path / "entry.npz"),
                     continues=str(tmp_path / "before.npz"))
  entry = zoo.load(path)
  assert entry.meta["steps"] == 1250
  assert entry.meta["notes"] == (
      "first run; then 250 steps more from step 1,000: --seed=2")
  assert entry.digest == run.digest
  with np.load(path) as f:
    tables = {k[len("table_"):]: f[k] for k in f.files
              if k.startswith("table_")}
  assert tables.keys() == run.model.coder_tables().keys()
  for key, value in run.model.coder_tables().items():
    np.testing.assert_array_equal(tables[key], value)
  alone = zoo.load(zoo.publish(str(tmp_path / "run.npz"),
                               str(tmp_path / "alone.npz")))
  assert (alone.meta["steps"], alone.meta["notes"]) == (250, "--seed=2")
  shipped = zoo.read_meta(zoo.path_of(zoo.DEFAULT_MODEL))
  by_name = zoo.read_meta(zoo.publish(str(tmp_path / "run.npz"),
                                      str(tmp_path / "by_name.npz"),
                                      continues=zoo.DEFAULT_MODEL))
  assert by_name["steps"] == shipped["steps"] + 250
  assert by_name["notes"].endswith("--seed=2")
  (tmp_path / "junk.npz").write_bytes(b"not a zip")
  with pytest.raises(ValueError, match="not a tfvrc weights file"):
    zoo.publish(str(tmp_path / "run.npz"), str(tmp_path / "bad.npz"),
                continues=str(tmp_path / "junk.npz"))
  assert not (tmp_path / "bad.npz").exists()


def test_keyed_files_load_whatever_the_order(tmp_path):
  """Weights are found by name: a file whose arrays are stored in another
  order loads the same weights (its digest follows the file's order)."""
  model = models.create("gained", lmbdas=[0.001, 0.01], num_filters=8,
                        latent_depth=8)
  zoo.save(model, str(tmp_path / "a"), steps=1)
  with np.load(str(tmp_path / "a.npz")) as f:
    arrays = {k: f[k] for k in reversed(f.files)}
  np.savez(str(tmp_path / "b.npz"), **arrays)
  a, b = (zoo.load(str(tmp_path / n)) for n in ("a.npz", "b.npz"))
  assert a.digest == a.model.weights_digest() != b.digest
  for x, y in zip(a.model.trainable_weights, b.model.trainable_weights):
    np.testing.assert_array_equal(x.numpy(), y.numpy())
  del arrays["w/analysis/layer_0/bias"]
  np.savez(str(tmp_path / "c.npz"), **arrays)
  with pytest.raises(ValueError, match="missing.*analysis/layer_0/bias"):
    zoo.load(str(tmp_path / "c.npz"))


def test_bad_names_and_files(tmp_path):
  with pytest.raises(ValueError, match="unknown model"):
    zoo.load("no-such-model")
  (tmp_path / "junk.npz").write_bytes(b"not a zip")
  with pytest.raises(ValueError, match="not a tfvrc weights file"):
    zoo.load(str(tmp_path / "junk.npz"))


def entropy_parameters(gained, x, rate):
  """The gained latent and its rounded hyper-latent's entropy parameters."""
  y = gained.latent_codec.gain(gained.analysis(x, rate), rate)
  hyper = gained.hyperprior_codec
  z = hyper.side.gain(hyper.hyper_analysis(y), rate)
  z_hat = hyper.side.inverse_gain(tf.round(z), rate)
  return y, hyper.parameters(z_hat, tf.shape(y)[1:3])


@pytest.mark.slow
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
  narrow = zoo.load_file(str(tmp_path / "narrow.npz")).model  # float16
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
    (y_narrow, params_narrow), (y_wide, params_wide) = (
        entropy_parameters(m, x, rate) for m in (narrow, wide))
    np.testing.assert_allclose(y_wide[..., :12].numpy(), y_narrow.numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(params_wide[..., :12].numpy(),
                               params_narrow[..., :12].numpy(), atol=1e-5)
    np.testing.assert_allclose(params_wide[..., 24:36].numpy(),
                               params_narrow[..., 12:].numpy(), atol=1e-5)
  with pytest.raises(ValueError, match="does not fit"):  # narrower: refused
    zoo.init_from(models.create("gained", lmbdas=lmbdas, num_filters=8,
                                latent_depth=8), str(tmp_path / "narrow.npz"))
