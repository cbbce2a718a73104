"""The tf.data input: reproducible crops, skipped files, sharding, validation."""

import io
import logging

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from conftest import random_image
from tfvrc import data

PATCH = 32


def tagged_image(tag, height, width):
  """A textured image whose red channel is the constant `tag`, so any crop
  tells which file it came from."""
  image = random_image(height, width, seed=tag)
  image[..., 0] = tag
  return image


def write_images(folder, sizes):
  """Writes PNGs tagged 10, 20, ... of the given (height, width)s."""
  for i, (height, width) in enumerate(sizes):
    tag = 10 * (i + 1)
    Image.fromarray(tagged_image(tag, height, width)).save(
        folder / f"im{i}.png")
  return str(folder)


@pytest.fixture
def images(tmp_path):
  return write_images(tmp_path, [(48, 40), (40, 56), (64, 48), (36, 36)])


def batches(dataset, count):
  return [b.numpy() for b in dataset.take(count)]


def tags(dataset, count):
  """Which images (red-channel tags) the first `count` batches' crops are of."""
  found = set()
  for batch in batches(dataset, count):
    red = batch[..., 0].reshape(len(batch), -1)
    assert (red == red[:, :1]).all()  # every crop is of one image
    found.update(int(t) for t in red[:, 0])
  return found


def test_same_seed_same_batches_and_other_seed_differs(images):
  first = batches(data.training_dataset(images, PATCH, 3, seed=5), 4)
  again = batches(data.training_dataset(images, PATCH, 3, seed=5), 4)
  other = batches(data.training_dataset(images, PATCH, 3, seed=6), 4)
  assert first[0].shape == (3, PATCH, PATCH, 3)
  assert first[0].dtype == np.float32
  np.testing.assert_array_equal(np.stack(first), np.stack(again))
  assert not np.array_equal(np.stack(first), np.stack(other))


def test_skip_batches_continues_the_seeded_sequence(images):
  whole = batches(data.training_dataset(images, PATCH, 2, seed=1), 5)
  resumed = batches(data.training_dataset(images, PATCH, 2, seed=1,
                                          skip_batches=3), 2)
  np.testing.assert_array_equal(np.stack(whole[3:]), np.stack(resumed))


def test_every_image_is_used(images):
  assert tags(data.training_dataset(images, PATCH, 4, seed=0), 8) == {
      10, 20, 30, 40}


def test_small_unreadable_and_undecodable_images_are_skipped(
    tmp_path, caplog, capfd):
  folder = write_images(tmp_path, [(48, 48), (20, 60), (40, 40), (60, 30)])
  (tmp_path / "garbage.png").write_bytes(b"not an image")
  png = io.BytesIO()
  Image.fromarray(random_image(64, 64)).save(png, "PNG")
  # Pillow opens it (the header is intact); TF fails on the pixel data.
  (tmp_path / "truncated.png").write_bytes(png.getvalue()[:300])
  with caplog.at_level(logging.INFO, logger="absl"):
    dataset = data.training_dataset(folder, PATCH, 4, seed=0)
  assert tags(dataset, 6) == {10, 30}
  messages = [r.getMessage() for r in caplog.records]
  unreadable = [m for m in messages if "unreadable" in m]
  assert len(unreadable) == 1
  assert unreadable[0].startswith(
      f"skipping unreadable image {tmp_path / 'garbage.png'}: ")
  assert [m for m in messages if "smaller" in m] == [
      f"skipped 2 of 6 images smaller than {PATCH} px"]
  assert "Invalid PNG data" in capfd.readouterr().err


def test_downsampling_filters_before_halving(tmp_path):
  checkerboard = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
  Image.fromarray(np.stack([checkerboard] * 3, axis=-1)).save(
      tmp_path / "check.png")
  Image.fromarray(tagged_image(10, 60, 64)).save(tmp_path / "small.png")
  dataset = data.training_dataset(str(tmp_path), PATCH, 2, downsample=True)
  crop = batches(dataset, 1)[0]
  # Plain subsampling of a 1-pixel checkerboard gives black or white; an
  # anti-aliased 2x reduction gives mid-grey, within a few levels at the
  # borders where the filter is cut (the 60 px image is too small once
  # halved, so every crop is of the checkerboard).
  assert np.all(np.abs(crop - 127.5) <= 3)


def test_workers_get_disjoint_shards(images):
  shards = [tags(data.training_dataset(
      images, PATCH, 2, seed=0, input_context=tf.distribute.InputContext(
          num_input_pipelines=2, input_pipeline_id=i,
          num_replicas_in_sync=2)), 6) for i in range(2)]
  assert shards[0].isdisjoint(shards[1])
  assert shards[0] | shards[1] == {10, 20, 30, 40}


def test_fewer_images_than_workers_is_an_error(tmp_path):
  folder = write_images(tmp_path, [(40, 40)])
  with pytest.raises(ValueError, match="fewer usable images than workers"):
    data.training_dataset(folder, PATCH, 1, input_context=(
        tf.distribute.InputContext(num_input_pipelines=2,
                                   input_pipeline_id=1)))


def test_validation_is_fixed_centre_crops(images):
  dataset = data.validation_dataset(images, PATCH, 2, max_images=3)
  first = batches(dataset, 3)
  assert [len(b) for b in first] == [2, 1]
  for batch, again in zip(first, batches(dataset, 3)):
    np.testing.assert_array_equal(batch, again)
  expected = tagged_image(20, 40, 56)[4:4 + PATCH, 12:12 + PATCH]
  np.testing.assert_array_equal(first[0][1], expected)
