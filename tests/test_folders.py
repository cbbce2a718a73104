"""`tfvrc compress-dir` / `decompress-dir`: whole folders, per-file errors
skipped, resumable."""

import os

import numpy as np
from PIL import Image
import pytest

from conftest import random_image, run_tfvrc
from tfvrc import coding, folders, io


def test_folders_round_trip_skip_bad_files_and_resume(model, tmp_path):
  source = tmp_path / "in"
  (source / "sub").mkdir(parents=True)
  images = {"a.png": random_image(40, 56, seed=1),
            "sub/b.png": random_image(33, 20, seed=2)}
  for name, image in images.items():
    Image.fromarray(image).save(source / name)
  (source / "broken.png").write_bytes(b"not an image")

  summary = folders.compress_dir(model, str(source), str(tmp_path / "c"),
                                 progress=False)
  assert (summary.done, summary.skipped) == (2, 0)
  assert [path for path, _ in summary.failed] == [str(source / "broken.png")]
  for name, image in images.items():
    data = (tmp_path / "c" / (name + ".tfvrc")).read_bytes()
    np.testing.assert_array_equal(
        coding.decode(model, data),
        coding.decode(model, coding.encode(model, image)))

  again = folders.compress_dir(model, str(source), str(tmp_path / "c"),
                               progress=False)
  assert (again.done, again.skipped, len(again.failed)) == (0, 2, 1)

  (tmp_path / "c" / "junk.tfvrc").write_bytes(b"TFVR\x02junk")
  summary = folders.decompress_dir(lambda data: model, str(tmp_path / "c"),
                                   str(tmp_path / "d"), progress=False)
  assert summary.done == 2 and len(summary.failed) == 1
  for name in images:
    decoded = io.read_image(str(tmp_path / "d" / name))
    data = (tmp_path / "c" / (name + ".tfvrc")).read_bytes()
    np.testing.assert_array_equal(decoded, coding.decode(model, data))


def test_decoded_names_are_lossless_pngs():
  assert folders.png_name("a.png.tfvrc") == "a.png"
  assert folders.png_name("sub/a.JPG.tfvrc") == "sub/a.JPG.png"


@pytest.mark.slow
def test_compress_dir_command_reports_and_fails_on_a_bad_file(tmp_path):
  source = tmp_path / "in"
  source.mkdir()
  Image.fromarray(random_image(32, 32)).save(source / "a.png")
  result = run_tfvrc("compress-dir", str(source), str(tmp_path / "out"),
                     "--quiet")
  assert result.returncode == 0, result.stderr
  assert "1 compressed, 0 skipped" in result.stdout
  (source / "b.png").write_text("broken")
  result = run_tfvrc("compress-dir", str(source), str(tmp_path / "out"),
                     "--quiet")
  assert result.returncode == 1
  assert "0 compressed, 1 skipped (done before), 1 failed" in result.stdout
  assert "b.png" in result.stderr
  assert os.listdir(tmp_path / "out") == ["a.png.tfvrc"]
