"""Image reading conventions and atomic, non-clobbering writes."""

import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from tfvrc import io


def test_grayscale_is_replicated(tmp_path):
  gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
  Image.fromarray(gray, "L").save(tmp_path / "g.png")
  image = io.read_image(str(tmp_path / "g.png"))
  assert image.shape == (3, 4, 3)
  for c in range(3):
    np.testing.assert_array_equal(image[..., c], gray)


def test_alpha_is_dropped_not_composited(tmp_path):
  rgba = np.random.default_rng(0).integers(0, 256, (5, 6, 4), dtype=np.uint8)
  rgba[..., 3] = 0  # fully transparent: compositing would change the colours
  Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
  np.testing.assert_array_equal(io.read_image(str(tmp_path / "a.png")),
                                rgba[..., :3])


def test_16bit_png_is_rounded_to_8_bits(tmp_path):
  rgb16 = np.random.default_rng(1).integers(0, 65536, (4, 5, 3),
                                            dtype=np.uint16)
  (tmp_path / "c.png").write_bytes(tf.io.encode_png(rgb16).numpy())
  expected = np.round(rgb16 / 257.).astype(np.uint8)
  np.testing.assert_array_equal(io.read_image(str(tmp_path / "c.png")),
                                expected)


def test_16bit_grayscale_png(tmp_path):
  gray16 = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
  Image.fromarray(gray16).save(tmp_path / "g16.png")
  image = io.read_image(str(tmp_path / "g16.png"))
  np.testing.assert_array_equal(image[..., 1],
                                np.round(gray16 / 257.).astype(np.uint8))


def test_jpeg_with_exif_orientation_is_upright(tmp_path):
  wide = np.zeros((10, 30, 3), np.uint8)
  exif = Image.Exif()
  exif[0x0112] = 6  # stored rotated: display needs a 90 degree turn
  Image.fromarray(wide).save(tmp_path / "r.jpg", exif=exif.tobytes())
  assert io.read_image(str(tmp_path / "r.jpg")).shape == (30, 10, 3)


def test_unreadable_inputs(tmp_path):
  (tmp_path / "t.png").write_text("not an image")
  with pytest.raises(io.ImageError, match="not a readable image"):
    io.read_image(str(tmp_path / "t.png"))
  with pytest.raises(FileNotFoundError, match="no such file"):
    io.read_image(str(tmp_path / "missing.png"))
  with pytest.raises(io.ImageError, match="directory"):
    io.read_image(str(tmp_path))


def test_atomic_write_refuses_to_overwrite(tmp_path):
  path = tmp_path / "out.bin"
  path.write_bytes(b"precious")
  with pytest.raises(FileExistsError, match="--force"):
    io.atomic_write(str(path), b"new")
  assert path.read_bytes() == b"precious"
  io.atomic_write(str(path), b"new", force=True)
  assert path.read_bytes() == b"new"
  assert os.listdir(tmp_path) == ["out.bin"]  # no temporary file left


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600),
                                        (0o002, 0o664)])
def test_atomic_write_respects_the_umask(umask, mode, tmp_path):
  previous = os.umask(umask)
  try:
    io.atomic_write(str(tmp_path / "out.bin"), b"data")
  finally:
    os.umask(previous)
  assert (tmp_path / "out.bin").stat().st_mode & 0o777 == mode


def test_write_image_round_trip_and_unknown_extension(tmp_path):
  image = np.random.default_rng(2).integers(0, 256, (7, 9, 3), np.uint8)
  io.write_image(str(tmp_path / "x.png"), image)
  np.testing.assert_array_equal(io.read_image(str(tmp_path / "x.png")), image)
  with pytest.raises(io.ImageError, match="unknown image extension"):
    io.write_image(str(tmp_path / "x.xyz"), image)
  assert sorted(os.listdir(tmp_path)) == ["x.png"]
