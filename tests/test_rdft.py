"""The matrix inverse RDFT: tfc's kernels and weights, computed faster."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc.layers import rdft


@pytest.mark.parametrize("support,channels", [
    ((5, 5), (16, 24)), ((3, 3), (24, 16)), ((9, 9), (3, 8)), ((4, 6), (5, 7))])
def test_same_weights_kernel_and_gradient_as_tfc(support, channels):
  ours = rdft.SignalConv2D(channels[1], support, corr=True, strides_down=2,
                           padding="same_zeros")
  reference = tfc.SignalConv2D(channels[1], support, corr=True,
                               strides_down=2, padding="same_zeros")
  for layer in (ours, reference):
    layer.build((None, None, None, channels[0]))
  assert isinstance(ours.kernel_parameter, rdft.MatrixRDFTParameter)
  assert ([(w.name, w.shape) for w in ours.weights]
          == [(w.name, w.shape) for w in reference.weights])
  for w, v in zip(ours.weights, reference.weights):
    w.assign(v)
  x = tf.random.uniform([1, 20, 20, channels[0]])
  gradients = []
  for layer in (ours, reference):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(layer(x) ** 2)
    gradients.append(tape.gradient(loss, layer.trainable_weights))
    np.testing.assert_allclose(layer.kernel.numpy(),
                               reference.kernel.numpy(), atol=1e-6)
  # Up to float rounding (tfc's irfft2d gradient is not exactly zero for the
  # unused imaginary parts of the DC and Nyquist terms).
  for ours_gradient, reference_gradient in zip(*gradients):
    scale = np.abs(reference_gradient.numpy()).max()
    np.testing.assert_allclose(ours_gradient.numpy(),
                               reference_gradient.numpy(), atol=1e-4 * scale)


def test_variable_kernels_are_left_to_tfc():
  layer = rdft.SignalConv2D(4, (3, 3), kernel_parameter="variable")
  layer.build((None, None, None, 2))
  assert isinstance(layer.kernel_parameter, tf.Variable)
