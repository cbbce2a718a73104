"""`tfvrc eval`: real file sizes and qualities, results files, and the CLI."""

import csv
import json
import math
import os
import types

import numpy as np
import pytest

from tfvrc import cli, coding, evaluate, metrics
from tfvrc import io as image_io
from conftest import ROOT

REFERENCE = os.path.join(ROOT, "..", "shared", "data", "rd_reference")


def reference_file(*parts):
  """A file of ../shared/data/rd_reference; skips the test when absent."""
  path = os.path.join(REFERENCE, *parts)
  if not os.path.isfile(path):
    pytest.skip(f"published RD data not found at {path}")
  return path


@pytest.fixture(scope="module")
def crops(sample):
  """Two crops of the shipped sample, large enough for MS-SSIM."""
  return [("top.png", sample[:176, :192]), ("bottom.png", sample[-168:, -200:])]


@pytest.fixture(scope="module")
def evaluated(model, crops):
  return evaluate.evaluate_model(model, crops, [model.default_rate],
                                 progress=False)


def test_bpp_is_the_file_size(model, crops, evaluated):
  _, rows = evaluated
  assert [r["image"] for r in rows] == ["top.png", "bottom.png"]
  for row, (_, image) in zip(rows, crops):
    data = coding.encode(model, image, row["rate"])
    assert row["bytes"] == len(data)
    assert row["bpp"] == len(data) * 8 / (image.shape[0] * image.shape[1])
    decoded = coding.decode(model, data)
    assert row["psnr-rgb"] == metrics.psnr(image, decoded)
    assert row["ms-ssim-rgb"] == metrics.ms_ssim(image, decoded)
    assert row["encoding_time"] > 0 and row["decoding_time"] > 0
    # The header and the coder's flush make the file a little larger.
    assert row["estimated_bpp"] == pytest.approx(row["bpp"], rel=0.1)


def test_results_are_compressai_json_averaged_over_images(model, evaluated):
  results, rows = evaluated
  assert results["name"] == model.codec_name
  assert model.digest.hex() in results["description"]
  values = results["results"]
  assert values["rate"] == [pytest.approx(model.default_rate)]
  for key in ("bpp", "estimated_bpp", "psnr-rgb", "ms-ssim-rgb",
              "encoding_time", "decoding_time"):
    assert values[key] == [pytest.approx(np.mean([r[key] for r in rows]))]
  assert 0 < values["ms-ssim-rgb"][0] <= 1


def test_savedmodel_codecs_have_no_estimate(model, crops):
  """A codec without `reconstruct` (as a SavedModel) gets NaN estimates."""
  codec = types.SimpleNamespace(meta={}, **{k: getattr(model, k) for k in (
      "codec_name", "digest", "rate_range", "default_rate", "rate_points",
      "num_strings", "graph_coding", "format_versions", "compress",
      "decompress")})
  results, rows = evaluate.evaluate_model(codec, crops[:1],
                                          [model.default_rate], False)
  assert math.isnan(rows[0]["estimated_bpp"])
  assert math.isnan(results["results"]["estimated_bpp"][0])
  assert "SavedModel" in results["description"]


def test_model_rates(model):
  lo, hi = model.rate_range
  expected = np.unique(np.linspace(lo, hi, 6).astype(np.float32))
  rates = evaluate.model_rates(model, steps=6)
  np.testing.assert_array_equal(np.float32(rates), expected)
  assert evaluate.model_rates(model, [hi, hi]) == [pytest.approx(hi)]
  with pytest.raises(ValueError, match="outside the range"):
    evaluate.model_rates(model, [hi * 2])
  with pytest.raises(ValueError, match="at least 1"):
    evaluate.model_rates(model, steps=0)


def test_results_and_rows_files_round_trip(evaluated, tmp_path):
  results, rows = evaluated
  json_path, csv_path = tmp_path / "m.json", tmp_path / "m.csv"
  evaluate.write_outputs({str(json_path): evaluate.results_bytes(results),
                          str(csv_path): evaluate.rows_bytes(rows)})
  assert evaluate.read_results(str(json_path)) == results
  with open(csv_path, encoding="utf-8") as f:
    read = list(csv.DictReader(f))
  assert [int(r["bytes"]) for r in read] == [r["bytes"] for r in rows]
  with pytest.raises(FileExistsError, match="use --force"):
    evaluate.write_outputs({str(json_path): b"{}"})


def test_read_two_column_text(tmp_path):
  folder = tmp_path / "MS-SSIM_sRGB_RGB"
  folder.mkdir()
  path = folder / "codec.txt"
  path.write_text('# Aggregate data for "My Codec" on kodak.\n#\n'
                  "0.1, 0.9\n0.2, 0.95\n\n")
  curve = evaluate.read_results(str(path))
  assert curve["name"] == "My Codec"
  assert curve["results"] == {"bpp": [0.1, 0.2], "ms-ssim-rgb": [0.9, 0.95]}
  dat = tmp_path / "data_Kodak_x_MSSSIM.dat"
  dat.write_text("0.1\t10\n0.2\t20\n")  # MS-SSIM in dB
  assert evaluate.read_results(str(dat))["results"]["ms-ssim-rgb"] == [
      pytest.approx(0.9), pytest.approx(0.99)]


@pytest.mark.parametrize("name,text,message", [
    ("x_PSNR.txt", "0.1 30\nResults From Github\n", ":2: expected 'bpp value'"),
    ("x_PSNR.txt", "# nothing\n", "no 'bpp value' lines"),
    ("x.txt", "0.1 30\n", "cannot tell the metric"),
    ("x.json", "{\"results\": {}}", "not an RD results file"),
    ("x.json", "{", "not valid JSON"),
])
def test_read_refuses(tmp_path, name, text, message):
  path = tmp_path / name
  path.write_text(text)
  with pytest.raises(ValueError, match=message):
    evaluate.read_results(str(path))


def test_read_published_files():
  tfc = evaluate.read_results(reference_file(
      "tensorflow_compression", "image_compression", "kodak", "PSNR_sRGB_RGB",
      "bpg444.txt"))
  assert tfc["name"] == "BPG (4:4:4)"
  assert tfc["results"]["bpp"][0] == 0.023857
  assert tfc["results"]["psnr-rgb"][0] == 23.787652
  luma = evaluate.read_results(reference_file(
      "tensorflow_compression", "image_compression", "kodak", "MS-SSIM_sRGB_Y",
      "bpg444.txt"))
  assert set(luma["results"]) == {"bpp", "ms-ssim-y"}
  cheng = evaluate.read_results(reference_file(
      "cheng2020_official", "data_Kodak_Proposed_optimized_by_MSE_MSSSIM.dat"))
  assert 0.9 < cheng["results"]["ms-ssim-rgb"][0] < 0.95  # 10.678 dB
  paper = evaluate.read_results(reference_file(
      "kodak", "paper-cheng2020-parallel_ms-ssim.json"))
  db = paper["results"]["ms-ssim-db-rgb"]
  np.testing.assert_allclose(metrics.msssim_db(
      paper["results"]["ms-ssim-rgb"]), db)


def test_compare_uses_the_one_point_form_for_one_point():
  curve = {"name": "a", "results": {"bpp": [0.1, 0.2, 0.4],
                                    "psnr-rgb": [28., 30., 32.]}}
  point = {"name": "b", "results": {"bpp": [0.18], "psnr-rgb": [30.]}}
  one = evaluate.compare(curve, point)
  assert one["method"] == "one point" and not one["errors"]
  assert one["bd_rate"] == pytest.approx(-10.)
  assert one["bd_quality"] > 0
  assert evaluate.compare(curve, curve) == {
      "method": "bjontegaard-pchip", "bd_rate": 0., "bd_quality": 0.,
      "errors": []}
  # Within the anchor's rates but below its qualities: only the quality
  # change exists.
  poor = {"name": "poor", "results": {"bpp": [0.3], "psnr-rgb": [20.]}}
  partial = evaluate.compare(curve, poor)
  assert partial["bd_rate"] is None and partial["bd_quality"] < -10
  assert "poor against a, psnr-rgb: the point's quality 20" in (
      partial["errors"][0])
  far = {"name": "far", "results": {"bpp": [3.], "psnr-rgb": [20.]}}
  with pytest.raises(ValueError, match="far against a"):
    evaluate.compare(curve, far)
  # Per metric, a comparison that cannot be had is kept with its reason.
  curve["results"]["ms-ssim-rgb"] = [0.9, 0.95, 0.97]
  far["results"]["ms-ssim-rgb"] = [0.95]
  both = evaluate.compare_metrics(curve, far, ("psnr-rgb", "ms-ssim-rgb"))
  assert both["psnr-rgb"]["bd_rate"] is None
  assert "far against a" in both["psnr-rgb"]["errors"][0]
  assert both["ms-ssim-rgb"]["bd_quality"] is None


# --- The command line ---------------------------------------------------------


@pytest.fixture(scope="module")
def image_folder(crops, tmp_path_factory):
  folder = tmp_path_factory.mktemp("images")
  for name, image in crops[:1]:
    image_io.write_image(str(folder / name), image)
  (folder / "notes.txt").write_text("not an image")
  return folder


def assert_one_line_error(capsys, argv, message):
  assert cli.main(argv) == 1
  err = capsys.readouterr().err
  assert message in err and len(err.strip().splitlines()) == 1, err


def test_cli_eval_writes_json_and_csv(image_folder, tmp_path, capsys):
  out, table = tmp_path / "r.json", tmp_path / "r.csv"
  assert cli.main(["eval", "--data", str(image_folder), "-o", str(out),
                   "--csv", str(table), "-q"]) == 0
  printed = capsys.readouterr().out
  results = json.loads(out.read_text())
  assert set(results["results"]) == {
      "rate", "bpp", "estimated_bpp", "psnr-rgb", "ms-ssim-rgb",
      "encoding_time", "decoding_time"}
  assert f"{results['results']['bpp'][0]:.4f}" in printed
  # One row per rate: the default model's steps over its range.
  assert table.read_text().count("top.png") == len(results["results"]["rate"])


def test_cli_eval_errors(image_folder, tmp_path, capsys):
  assert_one_line_error(capsys, ["eval", "--data", str(tmp_path / "none")],
                        "no such folder")
  assert_one_line_error(capsys, ["eval", "--data", str(tmp_path)],
                        "has no images")
  assert_one_line_error(capsys, ["eval", "--data", str(image_folder),
                                 "--rates", "0.5,x"], "comma-separated")
  assert_one_line_error(capsys, ["eval", "--data", str(image_folder),
                                 "--rates", "99"], "outside the range")
  existing = tmp_path / "r.json"
  existing.write_text("keep")
  assert_one_line_error(capsys, ["eval", "--data", str(image_folder), "-o",
                                 str(existing)], "use --force")
  assert existing.read_text() == "keep"


def test_cli_bdrate(tmp_path, capsys):
  files = []
  for name, scale in (("anchor", 1.), ("test", 0.9)):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "results": {
        "bpp": [0.1 * scale, 0.2 * scale, 0.4 * scale],
        "psnr-rgb": [28., 30., 32.]}}))
    files.append(str(path))
  assert cli.main(["bdrate", *files]) == 0
  last = capsys.readouterr().out.splitlines()[-1]
  assert last.split()[:2] == ["test", "-10.00"]
  assert last.endswith("bjontegaard-pchip")
  assert_one_line_error(capsys, ["bdrate", files[0], files[1], "--metric",
                                 "ms-ssim-rgb"], "has no bpp and ms-ssim-rgb")
