"""Zoo entries: published coder tables match the weights; bad files refused."""

import numpy as np
import pytest

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
