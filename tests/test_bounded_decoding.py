"""tfc's range decoding, bounded and checked: the same values as tfc's own
decoder for every string tfc's encoder writes; a refusal, in bounded time,
for strings it loops on or that do not re-encode to themselves."""

import subprocess
import sys
import textwrap

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from tfvrc.entropy import conditionals
from tfvrc.entropy import gaussian
from tfvrc.entropy import indexed_coding

# 24 bytes that keep tfc's decoder busy for ever when it decodes 16x16x4
# symbols under zero-mean normal priors of SCALES (found by decoding random
# strings).
LOOPING = "2e9ee5a95c2eb47faad2423ad5f6e769fcdbafda97f9d2af"
SCALES = [0.3, 1., 5., 40.]
SHAPE = (16, 16)


def channels_model():
  return tfc.ContinuousBatchedEntropyModel(
      tfc.NoisyNormal(loc=0., scale=tf.constant(SCALES)), coding_rank=3,
      compression=True)


def bounded_decode(model, strings, shape):
  """`model.decompress(strings, shape)`, bounded and checked."""
  return gaussian.FactorizedCoder(model).decompress(strings, shape)


def latent(seed, shape=(1, *SHAPE, 4)):
  """Values at the prior's scales, with outliers tfc codes as escapes."""
  rng = np.random.default_rng(seed)
  y = rng.normal(size=shape) * SCALES[:shape[-1]]
  y.flat[rng.integers(0, y.size, 3)] = [900., -3000., 70000.]
  return tf.constant(y, tf.float32)


def run_decoder(decode, timeout):
  """Decodes LOOPING in a fresh process; its output, or None on timeout."""
  script = textwrap.dedent(f"""
      import tensorflow as tf, tensorflow_compression as tfc
      from tfvrc.entropy import gaussian
      model = tfc.ContinuousBatchedEntropyModel(
          tfc.NoisyNormal(loc=0., scale=tf.constant({SCALES})),
          coding_rank=3, compression=True)
      strings = tf.constant([bytes.fromhex("{LOOPING}")])
      bounded = gaussian.FactorizedCoder(model)
      try:
        {decode}
        print("decoded")
      except tf.errors.InvalidArgumentError as e:
        print("refused:", e.message)
      """)
  try:
    return subprocess.run([sys.executable, "-c", script], timeout=timeout,
                          capture_output=True, text=True, check=True).stdout
  except subprocess.TimeoutExpired:
    return None


@pytest.mark.slow
def test_tfc_loops_on_the_string():
  """The premise of the next test: tfc's own decoder is still busy after
  20 s (slow: it waits for that)."""
  assert run_decoder(
      f"model.decompress(strings, {SHAPE})", timeout=20) is None


def test_the_bounded_decoder_refuses_the_string_tfc_loops_on():
  output = run_decoder(
      f"bounded.decompress(strings, {SHAPE})",
      timeout=60)
  assert output is not None and "refused:" in output, output
  assert indexed_coding.TOO_LARGE in output or (
      indexed_coding.NOT_REENCODED in output), output


def test_channels_decode_as_tfc_does():
  model = channels_model()
  for seed in range(3):
    strings = model.compress(latent(seed))
    np.testing.assert_array_equal(
        bounded_decode(model, strings, SHAPE),
        model.decompress(strings, SHAPE))


@pytest.mark.parametrize("conditional", [conditionals.GaussianConditional,
                                         conditionals.AsymmetricConditional])
def test_indexed_decode_as_tfc_does(conditional):
  coder = conditional(compression=True)
  y = latent(0, (1, *SHAPE, 2))
  rng = np.random.default_rng(1)
  params = tf.concat([
      tf.constant(rng.normal(size=y.shape) * 3, tf.float32),
      tf.constant(rng.uniform(0, 63, (*y.shape[:-1],
                                      2 * (conditional.num_params - 1))),
                  tf.float32)], -1)
  strings = coder.compress(y, params)
  decoded = coder.decompress(strings, params)
  np.testing.assert_array_equal(decoded, coder.quantize(y, params))
  means = tf.split(params, conditional.num_params, -1)[0]
  reference = (coder.model.decompress(strings, coder._split(params)[1])  # pylint: disable=protected-access
               + means if conditional is conditionals.AsymmetricConditional else
               coder.model.decompress(strings, params[..., 2:], loc=means))
  np.testing.assert_array_equal(decoded, reference)


@pytest.mark.parametrize("change", ["append", "cut", "swap"])
def test_strings_that_do_not_reencode_are_refused(change):
  model = channels_model()
  string = model.compress(latent(0)).numpy()[0]
  changed = {"append": string + b"\x00",
             "cut": string[:len(string) // 2],
             "swap": string[1:2] + string[:1] + string[2:]}[change]
  assert changed != string
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=indexed_coding.NOT_REENCODED):
    bounded_decode(model, tf.constant([changed]), SHAPE)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 24))
def test_any_string_is_refused_or_reencodes(data, side):
  """Whatever the bytes and the shape a header claims: a refusal, or values
  whose encoding is exactly those bytes."""
  model = channels_model()
  try:
    values = bounded_decode(
        model, tf.constant([data]), (side, side))
  except tf.errors.InvalidArgumentError as e:
    assert any(r in e.message for r in indexed_coding.REASONS), e.message
  else:
    assert model.compress(values).numpy()[0] == data
