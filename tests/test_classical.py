"""`tfvrc bench`: classical codecs through real files (JPEG always; the
external tools when installed)."""

import io
import json
import shutil

from PIL import Image
import pytest

from tfvrc import cli, classical
from tfvrc import io as image_io
from test_evaluate import assert_one_line_error


@pytest.fixture(scope="module")
def crop(sample):
  return [("crop.png", sample[200:264, 300:380])]


def test_jpeg_bpp_is_the_file_size_and_grows_with_quality(crop):
  jpeg = classical.CODECS["jpeg"]
  results, rows = classical.bench(jpeg, crop, [10, 50, 90], progress=False)
  image = crop[0][1]
  for row in rows:
    data = jpeg.encode(image, row["quality"], None)
    assert row["bytes"] == len(data)
    assert row["bpp"] == len(data) * 8 / (image.shape[0] * image.shape[1])
  values = results["results"]
  assert values["quality"] == [10, 50, 90]
  assert values["bpp"] == sorted(values["bpp"])
  assert values["psnr-rgb"] == sorted(values["psnr-rgb"])
  assert "estimated_bpp" not in values
  assert "4:2:0" in results["description"]


def test_jpeg_is_4_2_0(sample):
  data = classical.CODECS["jpeg"].encode(sample[:64, :64], 75, None)
  with Image.open(io.BytesIO(data)) as im:
    assert im.layer[0][1:3] == (2, 2)  # luma sampled 2x2 per chroma sample


@pytest.mark.parametrize("name", ["webp", "hevc444", "avif", "jxl"])
def test_external_codec_round_trip(name, crop):
  codec = classical.CODECS[name]
  missing = [t for t in codec.tools if shutil.which(t) is None]
  if missing:
    pytest.skip(f"{', '.join(missing)} not installed (Debian package "
                f"{codec.package})")
  ends = [codec.qualities[0], codec.qualities[-1]]
  results, rows = classical.bench(codec, crop, ends, progress=False)
  low, high = sorted(rows, key=lambda r: r["bpp"])
  # The ends of the sweep are far apart, and more bits mean better quality.
  assert high["bpp"] > 2 * low["bpp"]
  assert high["psnr-rgb"] > low["psnr-rgb"]
  # Colours survive: a wrong YCbCr matrix or range would cap this near 25 dB.
  assert high["psnr-rgb"] > 33
  assert results["results"]["quality"] == ends
  assert results["name"] == name


def test_missing_tool_names_the_package(monkeypatch, tmp_path, capsys):
  monkeypatch.setenv("PATH", str(tmp_path))
  with pytest.raises(FileNotFoundError, match=r"apt-get install libjxl-tools"):
    classical.get("jpeg,jxl")
  assert_one_line_error(capsys, ["bench", "--codec", "hevc444", "--data",
                                 str(tmp_path)], "Debian package ffmpeg")
  assert classical.get(["jpeg"]) == [classical.CODECS["jpeg"]]


def test_unknown_codec():
  with pytest.raises(ValueError, match="unknown codec bpg: choose from jpeg"):
    classical.get("jpeg,bpg")


def test_cli_bench_writes_json_and_csv(crop, tmp_path, capsys):
  data = tmp_path / "images"
  data.mkdir()
  image_io.write_image(str(data / "crop.png"), crop[0][1])
  out = tmp_path / "out"
  assert cli.main(["bench", "--codec", "jpeg", "--data", str(data), "-o",
                   str(out), "-q"]) == 0
  results = json.loads((out / "jpeg.json").read_text())
  assert results["results"]["quality"] == list(classical.CODECS["jpeg"].qualities)
  assert len((out / "jpeg.csv").read_text().splitlines()) == 1 + len(
      classical.CODECS["jpeg"].qualities)
  assert "jpeg" in capsys.readouterr().out
  assert_one_line_error(capsys, ["bench", "--codec", "jpeg", "--data",
                                 str(data), "-o", str(out)], "use --force")
