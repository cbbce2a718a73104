"""RDFT-parameterized convolutions whose kernel is one small matrix product.

`tfc.SignalConv2D` stores a kernel by its real DFT (`tfc.RDFTParameter`,
which conditions training better) and rebuilds it with `tf.signal.irfft2d` on
every call. On CPU that inverse transform of thousands of 5x5 kernels is
expensive: for a 768x512 `compress` with our N=64/M=96 model, about 45 % of
the time (39 of about 87 ms; experiments/speed/rdft_kernels.py measures it
against ours, 12x faster). The inverse RDFT is linear, so
`MatrixRDFTParameter` applies it as a fixed [k*k', k*k] matrix built once from
numpy's `irfft2` of unit spectra: the same variables (names, shapes, initial
values), so every weights file loads unchanged, and the same kernel up to
float rounding.
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


class SignalConv2D(tfc.SignalConv2D):
  """`tfc.SignalConv2D` whose "rdft" kernel is a `MatrixRDFTParameter`."""

  def build(self, input_shape):
    if isinstance(self.kernel_parameter, str) and (
        self.kernel_parameter == "rdft"):
      shape = self.kernel_support + (int(input_shape[-1]), self.filters)
      self.kernel_parameter = MatrixRDFTParameter(
          self.kernel_initializer(shape=shape, dtype=self.variable_dtype),
          name="kernel")
    super().build(input_shape)
