"""`tfvrc plot`: one curve per file, in PSNR or MS-SSIM (optionally dB)."""

import json

import numpy as np
from PIL import Image
import pytest

from tfvrc import cli, evaluate, metrics, plot
from test_evaluate import assert_one_line_error, reference_file


def curve(name, bpp, psnr, msssim):
  return {"name": name, "description": "",
          "results": {"bpp": bpp, "psnr-rgb": psnr, "ms-ssim-rgb": msssim}}


CURVES = [curve("a", [0.1, 0.5, 1.0], [28., 33., 37.], [0.9, 0.97, 0.99]),
          curve("b", [0.2, 0.4, 3.0], [27., 30., 40.], [0.88, 0.95, 0.995]),
          curve("one point", [0.3], [31.], [0.96])]


def test_writes_a_png_with_one_line_per_curve(tmp_path):
  path = tmp_path / "rd.png"
  fig = plot.write_plot(str(path), CURVES, title="Kodak")
  ax, = fig.axes
  assert [line.get_label() for line in ax.lines] == ["a", "b", "one point"]
  np.testing.assert_array_equal(ax.lines[1].get_ydata(), [27., 30., 40.])
  assert ax.get_title() == "Kodak"
  assert "PSNR" in ax.get_ylabel()
  with Image.open(path) as im:
    assert im.format == "PNG" and im.size == (800, 600)
  with pytest.raises(FileExistsError, match="use --force"):
    plot.write_plot(str(path), CURVES)


def test_ms_ssim_in_db_and_rate_cut():
  fig = plot.plot(CURVES, metric="ms-ssim-rgb", db=True, max_bpp=2.)
  ax, = fig.axes
  np.testing.assert_allclose(ax.lines[0].get_ydata(),
                             metrics.msssim_db([0.9, 0.97, 0.99]))
  np.testing.assert_array_equal(ax.lines[1].get_xdata(), [0.2, 0.4])
  assert ax.get_ylabel() == "MS-SSIM RGB (dB)"
  assert ax.get_xlim() == (0., 2.)
  linear = plot.plot(CURVES[:1], metric="ms-ssim-rgb").axes[0]
  np.testing.assert_array_equal(linear.lines[0].get_ydata(), [0.9, 0.97, 0.99])


def test_refuses_missing_metric_and_other_formats(tmp_path):
  psnr_only = {"name": "paper", "results": {"bpp": [0.1], "psnr-rgb": [30.]}}
  with pytest.raises(ValueError, match="paper has no bpp and ms-ssim-rgb"):
    plot.plot([psnr_only], metric="ms-ssim-rgb")
  with pytest.raises(ValueError, match="name it"):
    plot.write_plot(str(tmp_path / "rd.jpg"), CURVES)


def test_cli_plots_our_json_and_published_files(tmp_path, capsys):
  ours = tmp_path / "ours.json"
  ours.write_text(json.dumps(CURVES[0]))
  files = [str(ours),
           reference_file("kodak", "bpg_444_x265_ycbcr.json"),
           reference_file("tensorflow_compression", "image_compression",
                          "kodak", "MS-SSIM_sRGB_RGB", "bpg444.txt"),
           reference_file("cheng2020_official",
                          "data_Kodak_Proposed_optimized_by_MSE_MSSSIM.dat")]
  out = tmp_path / "rd.png"
  assert cli.main(["plot", *files, "-o", str(out), "--metric", "ms-ssim-rgb",
                   "--db", "--max-bpp", "2"]) == 0
  assert "4 curves" in capsys.readouterr().out
  assert Image.open(out).format == "PNG"
  assert_one_line_error(capsys, ["plot", *files, "-o", str(out)],
                        "use --force")
  assert_one_line_error(capsys, ["plot", files[2], "-o",
                                 str(tmp_path / "psnr.png")],
                        "has no bpp and psnr-rgb")
  assert evaluate.read_results(files[2])["name"] == "BPG (4:4:4)"
