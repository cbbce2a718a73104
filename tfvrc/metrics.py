"""Image quality and rate measures (PSNR and MS-SSIM from tf.image)."""

import numpy as np
import tensorflow as tf

# tf.image.ssim_multiscale with its 5 default scales and 11x11 window needs
# each side to stay >= 11 after 4 halvings.
MS_SSIM_MIN_SIDE = 161


def bpp(num_bytes, image_shape):
  """Bits per pixel of a file of `num_bytes` for an image of `image_shape`."""
  return num_bytes * 8. / (image_shape[0] * image_shape[1])


# Compiled once for any image size: eager tf.image.ssim_multiscale dominated
# `tfvrc eval` (experiments/speed/README.md has the measurement).
IMAGE_PAIR = [tf.TensorSpec((None, None, 3), tf.uint8)] * 2


@tf.function(input_signature=IMAGE_PAIR)
def _psnr(a, b):
  return tf.image.psnr(tf.cast(a, tf.float32), tf.cast(b, tf.float32),
                       max_val=255.)


@tf.function(input_signature=IMAGE_PAIR)
def _ms_ssim(a, b):
  return tf.image.ssim_multiscale(tf.cast(a, tf.float32),
                                  tf.cast(b, tf.float32), max_val=255.)


def psnr(reference, decoded):
  """PSNR in dB over RGB of two uint8 images (inf when identical)."""
  return float(_psnr(reference, decoded))


def ms_ssim(reference, decoded):
  """MS-SSIM over RGB; NaN for images too small for its five scales."""
  if min(np.shape(reference)[:2]) < MS_SSIM_MIN_SIDE:
    return float("nan")
  return float(_ms_ssim(reference, decoded))


def msssim_db(value):
  """MS-SSIM as -10 log10(1 - value), the dB scale RD plots use near 1."""
  return -10. * np.log10(1. - np.asarray(value, np.float64))


# --- Bjøntegaard deltas ------------------------------------------------------
#
# As in the VCEG/JVET tools with piecewise cubic interpolation: each curve is
# interpolated with PCHIP (log-rate against quality for BD-rate, quality
# against log-rate for BD-PSNR), the difference of the two interpolants is
# integrated over the range both curves cover and divided by its length.


def rd_points(curve, metric="psnr-rgb"):
  """An (N, 2) float array of (bpp, quality): from (bpp, quality) pairs, or a
  dict with "bpp" and `metric` lists (a CompressAI "results" dict or a whole
  results file)."""
  if isinstance(curve, dict):
    results = curve.get("results", curve)
    name = curve.get("name", "the curve")
    if "bpp" not in results or metric not in results:
      have = ", ".join(k for k in results if k != "bpp") or "nothing"
      raise ValueError(f"{name} has no bpp and {metric} values (it has: "
                       f"{have})")
    if len(results["bpp"]) != len(results[metric]):
      raise ValueError(f"{name} has {len(results['bpp'])} bpp values but "
                       f"{len(results[metric])} {metric} values")
    curve = list(zip(results["bpp"], results[metric]))
  points = np.asarray(curve, np.float64)
  if points.size == 0:
    points = points.reshape(0, 2)
  if points.ndim != 2 or points.shape[1] != 2:
    raise ValueError("an RD curve must be a sequence of (bpp, quality) pairs")
  if not np.all(np.isfinite(points)):
    raise ValueError("an RD curve has NaN or infinite values")
  if np.any(points[:, 0] <= 0):
    raise ValueError("an RD curve has a bpp <= 0")
  return points


def _curve(curve, label, metric):
  """`rd_points` with the two points an interpolation needs at least."""
  points = rd_points(curve, metric)
  if len(points) < 2:
    raise ValueError(f"the {label} curve has {len(points)} point(s); "
                     "Bjøntegaard deltas need at least 2")
  return points


def _interpolant(x, y, what):
  from scipy import interpolate  # pylint: disable=import-outside-toplevel
  order = np.argsort(x)
  x, y = x[order], y[order]
  if np.any(np.diff(x) == 0):
    raise ValueError(f"an RD curve has two points with the same {what}")
  return interpolate.PchipInterpolator(x, y, extrapolate=False)


def _mean_gap(anchor_xy, test_xy, what):
  """Mean of test(x) - anchor(x) over the x range both curves cover."""
  (xa, ya), (xt, yt) = anchor_xy, test_xy
  lo, hi = max(xa.min(), xt.min()), min(xa.max(), xt.max())
  if not lo < hi:
    raise ValueError(
        f"the curves do not overlap in {what}: anchor {xa.min():.4g} to "
        f"{xa.max():.4g}, test {xt.min():.4g} to {xt.max():.4g}")
  integral = (_interpolant(xt, yt, what).integrate(lo, hi)
              - _interpolant(xa, ya, what).integrate(lo, hi))
  return float(integral / (hi - lo))


def bd_rate(anchor, test, metric="psnr-rgb"):
  """Bjøntegaard delta rate (%): test's mean rate change against the anchor
  at equal quality (negative: test needs fewer bits). Curves as `rd_points`
  takes them."""
  a, t = _curve(anchor, "anchor", metric), _curve(test, "test", metric)
  gap = _mean_gap((a[:, 1], np.log(a[:, 0])), (t[:, 1], np.log(t[:, 0])),
                  "quality")
  return float(np.expm1(gap) * 100.)


def bd_psnr(anchor, test, metric="psnr-rgb"):
  """Bjøntegaard delta quality: test's mean quality change against the anchor
  at equal rate, in the metric's unit (dB for PSNR)."""
  a, t = _curve(anchor, "anchor", metric), _curve(test, "test", metric)
  return _mean_gap((np.log(a[:, 0]), a[:, 1]), (np.log(t[:, 0]), t[:, 1]),
                   "bpp")


def _anchor_at(x, xa, ya, what):
  """The anchor's interpolant at `x`, which must lie in the anchor's range."""
  if not xa.min() <= x <= xa.max():
    raise ValueError(f"the point's {what} {x:.4g} is outside the anchor's "
                     f"range {xa.min():.4g} to {xa.max():.4g}")
  return float(_interpolant(xa, ya, what)(x))


def rate_change_at(anchor, bpp, quality, metric="psnr-rgb"):
  """BD-rate's one-point form (%), for a fixed-rate codec: the rate change of
  one (bpp, quality) point against the anchor curve at the same quality."""
  a = _curve(anchor, "anchor", metric)
  log_rate = _anchor_at(quality, a[:, 1], np.log(a[:, 0]), "quality")
  return float(np.expm1(np.log(bpp) - log_rate) * 100.)


def quality_change_at(anchor, bpp, quality, metric="psnr-rgb"):
  """BD-PSNR's one-point form: the quality change of one (bpp, quality) point
  against the anchor curve at the same rate."""
  a = _curve(anchor, "anchor", metric)
  return quality - _anchor_at(np.log(bpp), np.log(a[:, 0]), a[:, 1], "bpp")
