"""tfc's range decoding, bounded in time and checked, for any string.

tfc's decoder reads zero bytes past the end of a string, and decodes an
escaped (overflow) value with a loop that runs while it reads zero bits. A
string that holds fewer symbols than its file's header implies can thus keep
the decoder busy for ever (issue 15; `tests/test_bounded_decoding.py` holds
a 24-byte example). Here the decoder reads the string, then `ZERO_BYTES`
zeros (what it would read anyway: tfc's encoder leaves trailing zeros
implicit), then bytes of all ones. In ones an escape's loop ends within a
few bits, so a symbol reads at most about 20 bits, and
`TAIL_BYTES_PER_SYMBOL` bytes of ones per symbol outlast any decode.

The decoded symbols are accepted only if they re-encode to the string, byte
for byte. That refuses strings holding too few or too many symbols, which
tfc's own check (did the decoder stop at the string's end?) can miss, and
magnitudes no encoder writes (which could make tfc's encoder loop).

tfc 2.14.1 is its last release; the index normalisation is its own
(`_normalize_indexes`, `_flatten_indexes`), so both sides index alike.
"""

import tensorflow as tf
from tensorflow_compression.python.ops import gen_ops

ZERO_BYTES = 64
TAIL_BYTES_PER_SYMBOL = 4
# Latent symbols are in the hundreds; tfc's encoder loops from 2**30.
MAX_MAGNITUDE = 2 ** 20
NOT_REENCODED = "a payload string does not re-encode to itself"
TOO_LARGE = "a payload string decodes to impossible magnitudes"
REASONS = (NOT_REENCODED, TOO_LARGE)

_CHUNK = 1024  # bytes of ones per tf.string element of the tail


def _padded(strings, num_symbols):
  """`strings` followed by the zeros and ones the decoder may read."""
  chunks = (tf.cast(num_symbols, tf.int64) * TAIL_BYTES_PER_SYMBOL // _CHUNK
            + 1)
  ones = tf.strings.reduce_join(tf.fill([chunks], b"\xff" * _CHUNK))
  return tf.strings.join([strings, b"\x00" * ZERO_BYTES + ones])


def _checked(symbols, strings, cdf, encode):
  """`symbols` once `encode(handle, symbols)` re-encodes them to `strings`."""
  in_range = tf.reduce_all(
      (symbols < MAX_MAGNITUDE) & (symbols > -MAX_MAGNITUDE))
  # Assert, not assert_equal: its message would print the (binary) strings.
  with tf.control_dependencies([tf.debugging.Assert(in_range, [TOO_LARGE])]):
    handle = gen_ops.create_range_encoder(tf.shape(strings), cdf)
    reencoded = gen_ops.entropy_encode_finalize(encode(handle, symbols))
  same = tf.reduce_all(tf.equal(reencoded, strings))
  with tf.control_dependencies([tf.debugging.Assert(same, [NOT_REENCODED])]):
    return tf.identity(symbols)


def decode_channels(model, strings, broadcast_shape):
  """`model.decompress(strings, broadcast_shape)` of a
  `tfc.ContinuousBatchedEntropyModel`, bounded and checked."""
  strings = tf.convert_to_tensor(strings, tf.string)
  broadcast_shape = tf.convert_to_tensor(broadcast_shape, tf.int32)
  prior_shape = model.prior_shape_tensor
  decode_shape = tf.concat([broadcast_shape, [tf.reduce_prod(prior_shape)]],
                           0)
  handle = gen_ops.create_range_decoder(
      _padded(strings, tf.reduce_prod(decode_shape)), model.cdf)
  _, symbols = gen_ops.entropy_decode_channel(handle, decode_shape, tf.int32)
  symbols = _checked(symbols, strings, model.cdf,
                     gen_ops.entropy_encode_channel)
  symbols = tf.reshape(symbols + model.cdf_offset, tf.concat(
      [tf.shape(strings), broadcast_shape, prior_shape], 0))
  outputs = tf.cast(symbols, model.bottleneck_dtype)
  if model.quantization_offset is not None:
    outputs += model.quantization_offset
  return outputs


def decode_indexed(model, strings, indexes):
  """`model.decompress(strings, indexes)` of a
  `tfc.ContinuousIndexedEntropyModel` (for a location-scale model, without
  its `loc`), bounded and checked."""
  strings = tf.convert_to_tensor(strings, tf.string)
  flat_indexes = model._flatten_indexes(  # pylint: disable=protected-access
      model._normalize_indexes(indexes))  # pylint: disable=protected-access
  decode_shape = tf.shape(flat_indexes)[-model.coding_rank:]
  handle = gen_ops.create_range_decoder(
      _padded(strings, tf.size(flat_indexes)), model.cdf)
  _, symbols = gen_ops.entropy_decode_index(handle, flat_indexes,
                                            decode_shape, tf.int32)
  symbols = _checked(
      symbols, strings, model.cdf,
      lambda handle, symbols: gen_ops.entropy_encode_index(
          handle, flat_indexes, symbols))
  symbols += tf.gather(model.cdf_offset, flat_indexes)
  return tf.cast(symbols, model.bottleneck_dtype)
