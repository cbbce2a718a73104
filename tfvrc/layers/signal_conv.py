"""`tfc.SignalConv2D`, faster on CPU, with the same weights and outputs.

Three of its steps are slow on CPU, and each has an exact, cheaper
equivalent (experiments/speed/README.md has the measurements):

* An RDFT-parameterized kernel (`tfc.RDFTParameter`, which conditions
  training better) is rebuilt with `tf.signal.irfft2d` on every call, a
  large share of a `compress`. The inverse RDFT is linear, so `MatrixRDFTParameter` applies it as a fixed [k*k', k*k]
  matrix built once from numpy's `irfft2` of unit spectra: the same
  variables (names, shapes, initial values), so every weights file loads
  unchanged.
* An upsampling convolution (`strides_up`) runs as `conv2d_transpose`,
  whose CPU kernel is slower than a plain correlation. Upsampling by s
  with a k x k kernel is s*s correlations of the input with sub-kernels
  (every s-th tap), one per output phase: `subpixel_phases` computes them
  as one correlation with s*s times the output channels, then interleaves
  the phases with `depth_to_space`. `subpixel_up_convolve` does not take
  its gradient through that correlation, whose s*s sub-kernels hold zero
  taps (36 for 25 at 5x5, stride 2), but as `conv2d_transpose`'s: a
  strided correlation and its filter gradient, about 30 % fewer
  multiplications.
* A correlation with explicit zero padding (tfc's "same_zeros") misses
  oneDNN's bfloat16 kernels; `tf.pad` then a "VALID" correlation runs on
  them (and gives the same float32 results).

Outputs and gradients equal tfc's up to float rounding
(tests/test_signal_conv.py).
"""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc


def inverse_rdft_matrices(support):
  """(real, imag) [kh, kw // 2 + 1, kh, kw] arrays: a kernel is the sum of
  the real and imaginary parts of its RDFT contracted with these."""
  height, width = support
  half = width // 2 + 1
  real = np.zeros((height, half, height, width))
  imag = np.zeros_like(real)
  for k in range(height):
    for l in range(half):
      unit = np.zeros((height, half), complex)
      unit[k, l] = 1.
      real[k, l] = np.fft.irfft2(unit, s=(height, width))
      unit[k, l] = 1j
      imag[k, l] = np.fft.irfft2(unit, s=(height, width))
  return real, imag


class MatrixRDFTParameter(tfc.RDFTParameter):
  """`tfc.RDFTParameter` of a 2D kernel, inverted by a matrix product."""

  def __init__(self, initial_value, name=None, shape=None, dtype=None):
    super().__init__(initial_value, name=name, shape=shape, dtype=dtype)
    # irfft2d's 1 / (kh * kw) is in the matrices; RDFTParameter's norm
    # sqrt(kh * kw) is folded in.
    norm = self.shape[:2].num_elements() ** .5
    self._real_basis, self._imag_basis = (
        tf.constant(norm * m, self.dtype)
        for m in inverse_rdft_matrices(tuple(self.shape[:2])))

  @tf.Module.with_name_scope
  def __call__(self, compute_dtype=None):
    """The kernel [kh, kw, in, out]."""
    kernel = (
        tf.einsum("iokl,kluv->uvio", self.real, self._real_basis)
        + tf.einsum("iokl,kluv->uvio", self.imag, self._imag_basis))
    return kernel if compute_dtype is None else tf.cast(kernel,
                                                        compute_dtype)


def subpixel_taps(kernel_size, stride):
  """Index [d, r] of the kernel tap that input offset d contributes to output
  phase r (-1 for none), and the first offset: an upsampling convolution of
  `kernel_size` centred taps gives
  out[s*p + r] = sum_d x[p + d] * k[r + c - s*d], c = kernel_size // 2,
  as tfc's "same" padding aligns it."""
  centre = kernel_size // 2
  first = -((kernel_size - 1 - centre) // stride)
  last = (stride - 1 + centre) // stride
  taps = np.full((last - first + 1, stride), -1)
  for d in range(first, last + 1):
    for r in range(stride):
      j = r + centre - stride * d
      if 0 <= j < kernel_size:
        taps[d - first, r] = j
  return taps, first


def subpixel_phases(inputs, kernel, stride):
  """tfc's `same_zeros` upsampling convolution of NHWC `inputs` with a
  [kh, kw, in, out] kernel: one correlation to stride * stride phases of the
  output channels, interleaved by `depth_to_space` (stride 1: a correlation
  with the flipped kernel)."""
  kh, kw, channels_in, channels_out = kernel.shape
  (rows, top), (cols, left) = (subpixel_taps(k, stride) for k in (kh, kw))
  # Gather from the taps plus one zero tap, index kh * kw.
  flat = tf.concat([tf.reshape(kernel, [kh * kw, channels_in, channels_out]),
                    tf.zeros([1, channels_in, channels_out], kernel.dtype)], 0)
  index = np.where((rows[:, None, :, None] >= 0) & (cols[None, :, None] >= 0),
                   rows[:, None, :, None] * kw + cols[None, :, None],
                   kh * kw)  # [dh, dw, rh, rw]
  sub = tf.gather(flat, index)  # [dh, dw, rh, rw, in, out]
  sub = tf.reshape(tf.transpose(sub, [0, 1, 4, 2, 3, 5]),
                   [len(rows), len(cols), channels_in,
                    stride * stride * channels_out])
  padding = [(0, 0), (-top, len(rows) - 1 + top),
             (-left, len(cols) - 1 + left), (0, 0)]
  phases = tf.nn.conv2d(tf.pad(inputs, padding), sub, 1, "VALID")
  return phases if stride == 1 else tf.nn.depth_to_space(phases, stride)


def transposed_gradients(d_outputs, inputs, kernel, stride):
  """Gradients (inputs, kernel) of the upsampling convolution as
  `conv2d_transpose` (tfc's path) has them: it is the adjoint of a strided
  correlation with the in/out-swapped kernel, padded as "same_zeros" pads."""
  kh, kw = kernel.shape[:2]
  padded = tf.pad(d_outputs, [(0, 0), (kh // 2, (kh - 1) // 2),
                              (kw // 2, (kw - 1) // 2), (0, 0)])
  swapped = tf.transpose(kernel, [0, 1, 3, 2])
  d_inputs = tf.nn.conv2d(padded, swapped, stride, "VALID")
  d_swapped = tf.compat.v1.nn.conv2d_backprop_filter(
      padded, tf.shape(swapped), inputs, [1, stride, stride, 1], "VALID")
  return d_inputs, tf.transpose(d_swapped, [0, 1, 3, 2])


def subpixel_up_convolve(inputs, kernel, stride):
  """`subpixel_phases`, differentiated by `transposed_gradients`."""

  @tf.custom_gradient
  def up_convolve(inputs, kernel):
    def gradient(d_outputs):
      return transposed_gradients(d_outputs, inputs, kernel, stride)
    return subpixel_phases(inputs, kernel, stride), gradient

  return up_convolve(inputs, tf.convert_to_tensor(kernel))


class SignalConv2D(tfc.SignalConv2D):
  """`tfc.SignalConv2D` with a `MatrixRDFTParameter` for "rdft" kernels and
  sub-pixel upsampling convolutions (2D, channels last, same_zeros)."""

  def build(self, input_shape):
    if isinstance(self.kernel_parameter, str) and (
        self.kernel_parameter == "rdft"):
      shape = self.kernel_support + (int(input_shape[-1]), self.filters)
      self.kernel_parameter = MatrixRDFTParameter(
          self.kernel_initializer(shape=shape, dtype=self.variable_dtype),
          name="kernel")
    super().build(input_shape)

  def _correlate_down_explicit(self, inputs, kernel, padding):
    if self.data_format != "channels_last" or self.channel_separable:
      return super()._correlate_down_explicit(inputs, kernel, padding)
    padded = tf.pad(inputs, [(0, 0), *padding, (0, 0)])
    return tf.nn.conv2d(padded, kernel, self.strides_down, "VALID")

  def _up_convolve_transpose_explicit(self, inputs, kernel, prepadding):
    stride = self.strides_up[0]
    if (self.padding != "same_zeros" or self.data_format != "channels_last"
        or self.strides_up != (stride, stride)
        or any(s != 1 for s in self.strides_down)
        or any(p != (0, 0) for p in prepadding)):
      return super()._up_convolve_transpose_explicit(inputs, kernel,
                                                     prepadding)
    return subpixel_up_convolve(inputs, kernel, stride)
