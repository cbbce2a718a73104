"""Reading images into uint8 RGB arrays, and writing files atomically.

What the codecs see: 8-bit RGB, height x width x 3. Grayscale is replicated to
three channels; an alpha channel is dropped (its RGB values are coded as they
are, not composited); 16-bit PNGs are rounded to 8 bits (v / 257); JPEG EXIF
orientation is applied so the image is coded upright.
"""

import contextlib
import io
import os
import shutil
import tempfile

import numpy as np
from PIL import Image, ImageOps

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG",
                 ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
                 ".webp": "WEBP"}


class ImageError(ValueError):
  """An input that is not a readable image, or an image tfvrc cannot code."""


def _png_bit_depth(header):
  if header[:8] == b"\x89PNG\r\n\x1a\n" and len(header) >= 25:
    return header[24]
  return None


def _read_png16(data):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  image = tf.io.decode_png(data, channels=3, dtype=tf.uint16).numpy()
  return np.round(image.astype(np.float64) / 257.).astype(np.uint8)


def read_image(path):
  """Reads an image file as a uint8 array of shape (height, width, 3)."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    raise FileNotFoundError(f"no such file: {path}") from None
  except IsADirectoryError:
    raise ImageError(f"{path} is a directory, not an image") from None
  if _png_bit_depth(data[:25]) == 16:
    return _read_png16(data)
  try:
    with Image.open(io.BytesIO(data)) as im:
      im = ImageOps.exif_transpose(im)
      if im.mode in ("I;16", "I;16B", "I", "F"):  # 16-bit/float grayscale
        gray = np.asarray(im, np.float64)
        scale = 257. if im.mode.startswith("I") else 255.
        return np.repeat(np.clip(np.round(gray / scale), 0, 255).astype(
            np.uint8)[..., None], 3, axis=-1)
      return np.asarray(im.convert("RGB"), np.uint8)
  except (OSError, Image.UnidentifiedImageError, SyntaxError, ValueError) as e:
    raise ImageError(f"{path} is not a readable image ({e})") from None


def current_umask():
  """The process's umask (reading it means setting it, so set it back)."""
  mask = os.umask(0)
  os.umask(mask)
  return mask


def atomic_write(path, data, force=False):
  """Writes bytes via a temporary file and a rename; refuses to overwrite.

  A crash or error never leaves a partial file at `path`, and an existing file
  is replaced only with `force`.
  """
  if os.path.isdir(path):
    raise IsADirectoryError(f"{path} is a directory")
  if os.path.exists(path) and not force:
    raise FileExistsError(f"{path} exists (use --force to overwrite)")
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tfvrc-", suffix=".tmp")
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    # mkstemp creates 0600; the file gets what open() would give it.
    os.chmod(tmp, 0o666 & ~current_umask())
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


@contextlib.contextmanager
def atomic_folder(path):
  """Yields a new folder beside `path` (whose parent must exist), with the
  mode the umask gives; once the block succeeds it replaces `path` by a
  rename, so a failure never leaves half a folder there."""
  staging = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(path)),
                             prefix=".tfvrc-")
  os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes it 0700
  try:
    yield staging
    shutil.rmtree(path, ignore_errors=True)
    os.replace(staging, path)
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def encode_image(image, path):
  """Image array -> file bytes, in the format the file name's extension names."""
  ext = os.path.splitext(path)[1].lower()
  if ext not in IMAGE_FORMATS:
    raise ImageError(f"cannot write {path}: unknown image extension {ext!r} "
                     f"(use one of {', '.join(sorted(IMAGE_FORMATS))})")
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(image, np.uint8)).save(buffer, IMAGE_FORMATS[ext])
  return buffer.getvalue()


def write_image(path, image, force=False):
  """Writes a uint8 (height, width, 3) array; PNG unless the extension says."""
  atomic_write(path, encode_image(image, path), force=force)
