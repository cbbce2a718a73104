"""Quality measures and Bjøntegaard deltas: known answers and published curves."""

import math

import numpy as np
import pytest

from tfvrc import evaluate, metrics
from test_evaluate import reference_file

# A concave curve like a real codec's (bpp, PSNR), unevenly spaced.
CURVE = [(0.07, 26.2), (0.16, 28.7), (0.35, 31.6), (0.68, 34.9),
         (1.2, 38.3), (1.93, 41.5)]


def scaled(curve, rate=1., quality=0.):
  return [(b * rate, q + quality) for b, q in curve]


def test_bpp_psnr_ms_ssim():
  image = np.full((200, 300, 3), 100, np.uint8)
  assert metrics.bpp(750, image.shape) == pytest.approx(0.1)
  assert metrics.psnr(image, image + 1) == pytest.approx(
      10 * math.log10(255 ** 2), abs=1e-4)
  assert metrics.ms_ssim(image, image) == pytest.approx(1.)
  assert math.isnan(metrics.ms_ssim(image[:100], image[:100]))


def test_msssim_db():
  assert metrics.msssim_db(0.99) == pytest.approx(20.)
  np.testing.assert_allclose(metrics.msssim_db([0.9, 0.999]), [10., 30.])


def test_bd_rate_of_a_scaled_rate_is_exact():
  assert metrics.bd_rate(CURVE, scaled(CURVE, rate=0.9)) == pytest.approx(
      -10.0, abs=1e-9)
  assert metrics.bd_rate(CURVE, scaled(CURVE, rate=1.25)) == pytest.approx(
      25.0, abs=1e-9)
  # Swapping anchor and test inverts the rate ratio.
  assert metrics.bd_rate(scaled(CURVE, rate=0.9), CURVE) == pytest.approx(
      100 / 0.9 - 100)


def test_bd_psnr_of_a_shifted_quality_is_exact():
  assert metrics.bd_psnr(CURVE, scaled(CURVE, quality=1.)) == pytest.approx(
      1.0, abs=1e-9)
  assert metrics.bd_psnr(CURVE, CURVE) == 0.
  # Better quality at equal rate is fewer bits at equal quality.
  assert metrics.bd_rate(CURVE, scaled(CURVE, quality=1.)) < -5


def test_only_the_overlap_counts():
  # The test curve covers only the upper half, where it is 10% cheaper (its
  # own interpolant differs from the anchor's a little near its ends).
  assert metrics.bd_rate(CURVE, scaled(CURVE[3:], rate=0.9)) == pytest.approx(
      -10.0, abs=0.2)
  assert metrics.bd_psnr(CURVE, scaled(CURVE[2:], quality=0.5)) == (
      pytest.approx(0.5, abs=0.05))


def test_points_order_does_not_matter():
  test = scaled(CURVE, rate=0.8)[::-1]
  assert metrics.bd_rate(CURVE[::-1], test) == pytest.approx(-20.)


def test_dicts_and_results_files_as_curves():
  bpp, psnr = zip(*CURVE)
  anchor = {"name": "a", "results": {"bpp": list(bpp), "psnr-rgb": list(psnr)}}
  test = {"bpp": [b * 0.9 for b in bpp], "ms-ssim-rgb": [0.9] * 6,
          "psnr-rgb": list(psnr)}
  assert metrics.bd_rate(anchor, test) == pytest.approx(-10.)
  with pytest.raises(ValueError, match="a has no bpp and ms-ssim-rgb"):
    metrics.bd_rate(anchor, test, metric="ms-ssim-rgb")


@pytest.mark.parametrize("anchor,test,message", [
    (CURVE, CURVE[:1], "test curve has 1 point"),
    ([], CURVE, "anchor curve has 0 point"),
    (CURVE, scaled(CURVE, quality=20.), "do not overlap in quality"),
    (CURVE, [(0.1, 30.), (0.2, 30.), (0.3, 31.)],
     "two points with the same quality"),
    (CURVE, [(0.1, 30.), (0.2, float("nan"))], "NaN"),
    (CURVE, [(0., 30.), (0.2, 31.)], "bpp <= 0"),
    (CURVE, [0.1, 0.2, 0.3], "pairs"),
])
def test_bd_rate_refuses(anchor, test, message):
  with pytest.raises(ValueError, match=message):
    metrics.bd_rate(anchor, test)


def test_bd_psnr_refuses_curves_apart_in_rate():
  with pytest.raises(ValueError, match="do not overlap in bpp"):
    metrics.bd_psnr(CURVE, scaled(CURVE, rate=100.))


def test_one_point_forms_agree_with_bd():
  bpp, quality = CURVE[2]
  assert metrics.rate_change_at(CURVE, bpp * 0.9, quality) == (
      pytest.approx(-10.))
  assert metrics.quality_change_at(CURVE, bpp, quality + 1.) == (
      pytest.approx(1.))
  # Between the anchor's points the PCHIP interpolant decides.
  assert metrics.rate_change_at(CURVE, 0.4, 33.) < 0 < (
      metrics.rate_change_at(CURVE, 0.5, 33.))
  with pytest.raises(ValueError, match="outside the anchor's range"):
    metrics.rate_change_at(CURVE, 0.5, 45.)


def test_published_curves():
  """CompressAI's own runs on Kodak, against its BPG 4:4:4 anchor."""
  bpg = evaluate.read_results(reference_file("kodak",
                                             "bpg_444_x265_ycbcr.json"))
  mbt = evaluate.read_results(reference_file(
      "kodak", "compressai-mbt2018-mean_mse_cpu.json"))
  jpeg = evaluate.read_results(reference_file("kodak", "jpeg.json"))
  assert metrics.bd_rate(bpg, mbt) < 0
  assert metrics.bd_psnr(bpg, mbt) > 0
  assert metrics.bd_rate(bpg, jpeg) > 50
  assert metrics.bd_psnr(bpg, jpeg) < -2
  # MS-SSIM (in dB) favours the learned model more than PSNR does.
  assert metrics.bd_rate(evaluate.curve_points(bpg, "ms-ssim-rgb", db=True),
                         evaluate.curve_points(mbt, "ms-ssim-rgb", db=True)) < (
                             metrics.bd_rate(bpg, mbt))
