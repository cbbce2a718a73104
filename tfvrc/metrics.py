"""Image quality and rate measures (PSNR and MS-SSIM from tf.image)."""

import numpy as np
import tensorflow as tf

# tf.image.ssim_multiscale with its 5 default scales and 11x11 window needs
# each side to stay >= 11 after 4 halvings.
MS_SSIM_MIN_SIDE = 161


def bpp(num_bytes, image_shape):
  """Bits per pixel of a file of `num_bytes` for an image of `image_shape`."""
  return num_bytes * 8. / (image_shape[0] * image_shape[1])


def psnr(reference, decoded):
  """PSNR in dB over RGB of two uint8 images (inf when identical)."""
  a = tf.cast(reference, tf.float32)
  b = tf.cast(decoded, tf.float32)
  return float(tf.image.psnr(a, b, max_val=255.))


def ms_ssim(reference, decoded):
  """MS-SSIM over RGB; NaN for images too small for its five scales."""
  if min(np.shape(reference)[:2]) < MS_SSIM_MIN_SIDE:
    return float("nan")
  a = tf.cast(reference, tf.float32)
  b = tf.cast(decoded, tf.float32)
  return float(tf.image.ssim_multiscale(a, b, max_val=255.))
