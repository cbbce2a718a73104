"""Our SignalConv2D: tfc's weights, kernels, outputs and gradients, computed
faster (matrix inverse RDFT, sub-pixel upsampling)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc.layers import signal_conv


@pytest.mark.parametrize("support,channels", [
    ((5, 5), (16, 24)), ((3, 3), (24, 16)), ((9, 9), (3, 8)), ((4, 6), (5, 7))])
def test_same_weights_kernel_and_gradient_as_tfc(support, channels):
  ours = signal_conv.SignalConv2D(channels[1], support, corr=True,
                                  strides_down=2, padding="same_zeros")
  reference = tfc.SignalConv2D(channels[1], support, corr=True,
                               strides_down=2, padding="same_zeros")
  for layer in (ours, reference):
    layer.build((None, None, None, channels[0]))
  assert isinstance(ours.kernel_parameter, signal_conv.MatrixRDFTParameter)
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
  layer = signal_conv.SignalConv2D(4, (3, 3), kernel_parameter="variable")
  layer.build((None, None, None, 2))
  assert isinstance(layer.kernel_parameter, tf.Variable)


@pytest.mark.parametrize("support,stride,corr,parameter", [
    (5, 2, False, "rdft"), (3, 2, False, "variable"), (5, 2, True, "variable"),
    (9, 4, False, "rdft"), (4, 2, False, "variable")])
@pytest.mark.parametrize("shape", [(1, 1, 1, 6), (2, 7, 5, 6), (1, 12, 9, 6)])
def test_upsampling_outputs_and_gradients_equal_tfc(support, stride, corr,
                                                    parameter, shape):
  """Sub-pixel upsampling: odd and even supports, convolution or
  correlation, strides 2 and 4, odd sizes down to one sample."""
  layers = [cls(4, (support, support), corr=corr, strides_up=stride,
                padding="same_zeros", kernel_parameter=parameter)
            for cls in (signal_conv.SignalConv2D, tfc.SignalConv2D)]
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal(size=shape), tf.float32)
  results = []
  for layer in layers:
    layer.build(x.shape)
  for w, v in zip(layers[0].weights, layers[1].weights):
    w.assign(rng.normal(size=w.shape).astype(np.float32))
    v.assign(w)
  for layer in layers:
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(y * tf.cos(y))
    results.append([y] + tape.gradient(loss, [x] + layer.trainable_weights))
  assert results[0][0].shape == (shape[0], shape[1] * stride,
                                 shape[2] * stride, 4)
  for ours, reference in zip(*results):
    scale = np.abs(reference.numpy()).max()
    np.testing.assert_allclose(ours.numpy(), reference.numpy(),
                               atol=1e-4 * scale)
