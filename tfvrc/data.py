"""tf.data input: any folder (or glob) of PNG/JPEG images to training crops.

Images are decoded once and cached in memory (decoding per crop would compete
with the training step for the CPU), optionally downsampled 2x with an
anti-aliasing filter, then cropped at random every epoch.
"""

import glob
import os

from absl import logging
from PIL import Image
import tensorflow as tf

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def list_images(source):
  """Image files under a folder (recursively) or matching a glob, sorted."""
  if os.path.isdir(source):
    files = [os.path.join(root, f) for root, _, names in os.walk(source)
             for f in names]
  else:
    files = glob.glob(source, recursive=True)
  files = sorted(f for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
  if not files:
    raise FileNotFoundError(f"no PNG or JPEG images found in {source!r}")
  return files


def usable_images(files, min_size, downsample):
  """Drops unreadable images (warning each) and ones too small (counted once)."""
  usable, small = [], 0
  for f in files:
    try:
      with Image.open(f) as im:
        width, height = im.size
    except (OSError, Image.UnidentifiedImageError) as e:
      logging.warning("skipping unreadable image %s: %s", f, e)
      continue
    if downsample:
      width, height = width // 2, height // 2
    if min(width, height) < min_size:
      small += 1
      continue
    usable.append(f)
  if small:
    logging.info("skipped %d of %d images smaller than %d px%s", small,
                 len(files), min_size, " after 2x downsampling" if downsample
                 else "")
  if not usable:
    raise ValueError(f"none of the {len(files)} images is usable at "
                     f"{min_size} px")
  return usable


def decode(path, downsample):
  image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                             expand_animations=False)
  image.set_shape((None, None, 3))
  if downsample:
    size = tf.shape(image)[:2] // 2
    image = tf.image.resize(tf.cast(image, tf.float32), size,
                            method="bilinear", antialias=True)
    image = tf.saturate_cast(tf.round(image), tf.uint8)
  return image


def decoded_images(files, downsample):
  """Dataset of the decoded `files`; one TF cannot decode is dropped (logged).

  Pillow's pre-scan only reads headers, so a truncated or damaged body first
  fails here, and must not stop a long run.
  """
  dataset = tf.data.Dataset.from_tensor_slices(files)
  return dataset.map(lambda f: decode(f, downsample),
                     num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(
                         log_warning=True)


def training_dataset(source, patch_size, batch_size, downsample=False,
                     seed=None, input_context=None, skip_batches=0):
  """Endless batches of random `patch_size` crops (float32, 0..255).

  `batch_size` is per replica when `input_context` is given (the strategy's
  `distribute_datasets_from_function`), which also shards files per worker.
  With a `seed`, the image order and the crops are a fixed sequence, and
  `skip_batches` continues it where a resumed run left off (skipped batches
  are not cropped).
  """
  files = usable_images(list_images(source), patch_size, downsample)
  if input_context is not None:
    files = files[input_context.input_pipeline_id::
                  input_context.num_input_pipelines]
  if not files:
    raise ValueError("fewer usable images than workers: this worker has none")
  images = decoded_images(files, downsample).cache()
  images = images.shuffle(len(files), seed=seed,
                          reshuffle_each_iteration=True).repeat()
  # A stateless crop seed per image: a stateful random op in a parallel map
  # would hand out its numbers in whatever order the calls run.
  crop_seeds = tf.data.Dataset.random(seed=seed).batch(2)
  dataset = tf.data.Dataset.zip((images, crop_seeds)).skip(
      skip_batches * batch_size)
  dataset = dataset.map(
      lambda im, s: tf.cast(tf.image.stateless_random_crop(
          im, (patch_size, patch_size, 3), seed=s), tf.float32),
      num_parallel_calls=tf.data.AUTOTUNE)
  return dataset.batch(batch_size, drop_remainder=True).prefetch(
      tf.data.AUTOTUNE)


def validation_dataset(source, patch_size, batch_size, max_images=None):
  """Fixed centre crops of the first `max_images` usable images.

  Under a multi-worker strategy each worker evaluates its share of the batches.
  """
  files = usable_images(list_images(source), patch_size, False)[:max_images]
  dataset = decoded_images(files, False).map(
      lambda im: tf.cast(tf.image.resize_with_crop_or_pad(
          im, patch_size, patch_size), tf.float32))
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.batch(batch_size).cache().with_options(options)
