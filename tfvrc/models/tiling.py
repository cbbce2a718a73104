"""A fully convolutional transform run tile by tile, so that coding an image
of any size needs memory for one tile's activations, not the whole image's
(issue 15; `experiments/reliability/big_image.py` measures the peak).

Each tile is computed with `margin` input samples of context on every side
(at least the transform's reach), clipped to the image, and only its centre
is kept. So every kept output sample sees the same input as in one pass
over the whole image, and a tile at the image's edge stops there, where the
one pass pads with zeros too. Tile corners are multiples of the transform's
stride, so the sampling grids agree. An input of at most one tile runs as
one pass over the whole input.
"""

import tensorflow as tf


def _ceil_div(a, b):
  return -(-a // b)


def _tile(fn, x, top, left, tile, margin, up, down):
  """The part of fn(x) from the tile at input (top, left)."""
  height, width = tf.shape(x)[1], tf.shape(x)[2]
  y0, x0 = tf.maximum(top - margin, 0), tf.maximum(left - margin, 0)
  y1 = tf.minimum(top + tile + margin, height)
  x1 = tf.minimum(left + tile + margin, width)
  # (A bfloat16 transform's output is cast exactly, as the one pass's is.)
  out = tf.cast(fn(x[:, y0:y1, x0:x1, :]), x.dtype)
  bottom = tf.minimum(top + tile, height)
  right = tf.minimum(left + tile, width)
  return out[0, (top - y0) * up // down:_ceil_div((bottom - y0) * up, down),
             (left - x0) * up // down:_ceil_div((right - x0) * up, down), :]


def tiled(fn, x, tile, margin, channels, up=1, down=1):
  """fn(x) for a batch of one [1, H, W, C], computed in `tile` x `tile`
  tiles of input with `margin` samples of context on each side.

  fn maps an input of n samples per side to ceil(n * up / down) samples of
  `channels` channels; `tile` and `margin` are multiples of `down`.
  """
  height, width = tf.shape(x)[1], tf.shape(x)[2]
  rows, cols = _ceil_div(height, tile), _ceil_div(width, tile)
  strips = tf.TensorArray(x.dtype, size=rows, infer_shape=False)
  for row in tf.range(rows):
    # One tile at a time (a graph loop would run up to 10 at once).
    tf.autograph.experimental.set_loop_options(parallel_iterations=1)
    tiles = tf.TensorArray(x.dtype, size=cols, infer_shape=False)
    for col in tf.range(cols):
      tf.autograph.experimental.set_loop_options(parallel_iterations=1)
      part = _tile(fn, x, row * tile, col * tile, tile, margin, up, down)
      tiles = tiles.write(col, tf.transpose(part, [1, 0, 2]))
    strips = strips.write(row, tf.transpose(tiles.concat(), [1, 0, 2]))
  output = strips.concat()[None]
  output.set_shape([1, None, None, channels])
  return output

