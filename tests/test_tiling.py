"""Coding in tiles: the same transform outputs as one pass (up to float
rounding), and the same files, for any image size."""

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import coding
from tfvrc import models
from tfvrc import zoo
from tfvrc.layers import transforms
from tfvrc.models import tiling
from tfvrc.models import vae


@pytest.fixture(scope="module")
def analysis():
  tf.keras.utils.set_random_seed(3)
  return transforms.AnalysisTransform(16, 8)


@pytest.mark.parametrize("height,width,tile", [(100, 150, 32), (33, 17, 16),
                                               (64, 64, 64), (20, 300, 1024)])
def test_tiled_analysis_equals_one_pass(analysis, height, width, tile):
  x = tf.random.stateless_uniform((1, height, width, 3), (1, 2), 0., 255.)
  tiled = tiling.tiled(analysis, x, tile, vae.TILE_MARGIN, 8, down=16)
  np.testing.assert_allclose(tiled, analysis(x), rtol=0, atol=1e-4)


def test_tiled_synthesis_equals_one_pass():
  tf.keras.utils.set_random_seed(4)
  synthesis = transforms.SynthesisTransform(16)
  y = tf.round(tf.random.stateless_normal((1, 9, 13, 8), (3, 4)) * 4)
  tiled = tiling.tiled(synthesis, y, 2, vae.TILE_MARGIN // 16, 3, up=16)
  assert tiled.shape == (1, 144, 208, 3)
  np.testing.assert_allclose(tiled, synthesis(y), rtol=0, atol=1e-3)


def test_tiled_coding_writes_the_same_file(model, sample):
  tiled = zoo.load()
  tiled.model.tile_size = 64
  crop = sample[:100, :200]
  data = coding.encode(tiled, crop)
  assert data == coding.encode(model, crop)
  difference = (coding.decode(tiled, data).astype(int)
                - coding.decode(model, data))
  assert np.abs(difference).max() <= 1


@pytest.mark.parametrize("decoder_msrbs", [
    1, pytest.param(3, marks=pytest.mark.slow)])
def test_msrb_transforms_in_tiles_equal_one_pass(decoder_msrbs):
  """The MSRB codec's analysis (any size: it pads to a multiple of 16) and
  PQF + synthesis, in tiles of 64 pixels with its margin."""
  tf.keras.utils.set_random_seed(5)
  model = models.create("asymmetric_msrb", num_filters=8,
                        decoder_msrbs=decoder_msrbs)
  model.tile_size = 64
  rate = tf.constant([0.])
  x = tf.random.stateless_uniform((1, 100, 135, 3), (5, 6), 0., 255.)
  np.testing.assert_allclose(model._tiled_analysis(x, rate),
                             model.analysis(x, rate), rtol=0, atol=1e-4)
  y = tf.round(tf.random.stateless_normal((1, 7, 9, 8), (7, 8)) * 3)
  np.testing.assert_allclose(model._tiled_synthesis(y, rate),
                             model.synthesis(y, rate), rtol=0, atol=1e-2)
