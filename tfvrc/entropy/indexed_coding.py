"""Range coding of integer symbols under indexed tables: the one coder of
every tfc entropy model here, and what a serving client runs (`serving`).

A coder's tables are tfc's: `cdf`, the concatenated quantized CDFs (each
preceded by its precision), and `cdf_offset`, each table's smallest symbol.
A latent is coded as its integer symbols and, per symbol, the index of its
table; a factorized model's index is the channel (tfc's channel coding writes
the same bytes).

Decoding is bounded in time and checked. tfc's decoder reads zero bytes past
the end of a string, and decodes an escaped (overflow) value with a loop
that runs while it reads zero bits. A string that holds fewer symbols than
its file's header implies can thus keep the decoder busy for ever (issue 15;
`tests/test_bounded_decoding.py` holds a 24-byte example). Here the decoder
reads the string, then `ZERO_BYTES` zeros (what it would read anyway: tfc's
encoder leaves trailing zeros implicit), then bytes of all ones. In ones an
escape's loop ends within a few bits, so a symbol reads at most about 20
bits, and `TAIL_BYTES_PER_SYMBOL` bytes of ones per symbol outlast any
decode. The decoded symbols are accepted only if they re-encode to the
string, byte for byte. That refuses strings holding too few or too many
symbols, which tfc's own check (did the decoder stop at the string's end?)
can miss, and magnitudes no encoder writes (which could make tfc's encoder
loop).
"""

import importlib.util
import os
import sys

import tensorflow as tf

ZERO_BYTES = 64
TAIL_BYTES_PER_SYMBOL = 4
# Latent symbols are in the hundreds; tfc's encoder loops from 2**30.
MAX_MAGNITUDE = 2 ** 20
NOT_REENCODED = "a payload string does not re-encode to itself"
TOO_LARGE = "a payload string decodes to impossible magnitudes"
REASONS = (NOT_REENCODED, TOO_LARGE)


def _tfc_ops():
  """tfc's range coding ops. Importing tensorflow_compression also imports
  tensorflow_probability, about 2 s of a cold start that needs only these
  ops, so unless it is already imported, its op library is loaded alone.
  The path is spelt exactly as tfc's `gen_ops` spells it: TensorFlow keeps a
  loaded library under that string, and loading the same file under another
  spelling returns a module without the ops."""
  if "tensorflow_compression" in sys.modules:
    from tensorflow_compression.python.ops import gen_ops  # pylint: disable=import-outside-toplevel
    return gen_ops
  package = importlib.util.find_spec(
      "tensorflow_compression").submodule_search_locations[0]
  return tf.load_op_library(os.path.join(
      package, "python", "ops", "../../cc/libtensorflow_compression.so"))


_ops = _tfc_ops()

CODING_RANK = 3  # one string per image: its height, width and channels
_CHUNK = 1024  # bytes of ones per tf.string element of the tail


def channel_indexes(shape):
  """The table indexes of a factorized model's symbols of `shape` (NHWC):
  each symbol's channel."""
  return tf.broadcast_to(tf.range(shape[-1], dtype=tf.int32), shape)


def _batch_shape(indexes):
  return tf.shape(indexes)[:-CODING_RANK]


def _encode(cdf, cdf_offset, symbols, indexes):
  handle = _ops.create_range_encoder(_batch_shape(indexes), cdf)
  handle = _ops.entropy_encode_index(
      handle, indexes, symbols - tf.gather(cdf_offset, indexes))
  return _ops.entropy_encode_finalize(handle)


def encode(cdf, cdf_offset, symbols, indexes):
  """The strings (one per image of the batch) of int32 `symbols`, each coded
  under table `indexes` (int32, same shape)."""
  return _encode(tf.convert_to_tensor(cdf, tf.int32),
                 tf.convert_to_tensor(cdf_offset, tf.int32),
                 tf.convert_to_tensor(symbols, tf.int32),
                 tf.convert_to_tensor(indexes, tf.int32))


def _padded(strings, num_symbols):
  """`strings` followed by the zeros and ones the decoder may read."""
  chunks = (tf.cast(num_symbols, tf.int64) * TAIL_BYTES_PER_SYMBOL // _CHUNK
            + 1)
  ones = tf.strings.reduce_join(tf.fill([chunks], b"\xff" * _CHUNK))
  return tf.strings.join([strings, b"\x00" * ZERO_BYTES + ones])


def decode(cdf, cdf_offset, indexes, strings):
  """Inverse of `encode`: the int32 symbols of `strings` under `indexes`,
  bounded in time; InvalidArgumentError (a `REASONS` message) for a string
  that does not re-encode to itself."""
  cdf = tf.convert_to_tensor(cdf, tf.int32)
  cdf_offset = tf.convert_to_tensor(cdf_offset, tf.int32)
  indexes = tf.convert_to_tensor(indexes, tf.int32)
  strings = tf.convert_to_tensor(strings, tf.string)
  handle = _ops.create_range_decoder(
      _padded(strings, tf.size(indexes)), cdf)
  _, symbols = _ops.entropy_decode_index(
      handle, indexes, tf.shape(indexes)[-CODING_RANK:], tf.int32)
  symbols += tf.gather(cdf_offset, indexes)
  in_range = tf.reduce_all(
      (symbols < MAX_MAGNITUDE) & (symbols > -MAX_MAGNITUDE))
  # Assert, not assert_equal: its message would print the (binary) strings.
  with tf.control_dependencies([tf.debugging.Assert(in_range, [TOO_LARGE])]):
    reencoded = _encode(cdf, cdf_offset, symbols, indexes)
  same = tf.reduce_all(tf.equal(reencoded, strings))
  with tf.control_dependencies([tf.debugging.Assert(same, [NOT_REENCODED])]):
    return tf.identity(symbols)


class TableCoder:
  """The coding half of an entropy model, on top of its `symbols`,
  `indexes` and `values`: what a string holds is exactly what `symbols`
  gives a serving client.

  Subclasses set `model`, the tfc entropy model whose tables they code
  with, and implement:
    symbols(y, params) -> (int32 symbols, int32 table indexes) to code;
    indexes(params) -> the table indexes a decoder needs;
    values(symbols, params) -> the float latent the symbols stand for.
  """

  @property
  def cdf_table(self):
    """(cdf, cdf_offset) of `model`."""
    return self.model.cdf, self.model.cdf_offset

  def compress(self, y, params):
    return encode(*self.cdf_table, *self.symbols(y, params))

  def decompress(self, strings, params):
    return self.values(
        decode(*self.cdf_table, self.indexes(params), strings), params)

  def quantize(self, y, params):
    """What `decompress(compress(y, params), params)` returns."""
    return self.values(self.symbols(y, params)[0], params)
