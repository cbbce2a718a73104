"""Mixture likelihoods, their integer tables, and the guarded range coder."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tfvrc.entropy import exact_mixture
from tfvrc.entropy import mixture
from tfvrc.entropy import range_coding


def random_params(kind, shape, seed):
  rng = np.random.default_rng(seed)
  params = rng.normal(size=shape + (mixture.num_params(kind) * 4,))
  return tf.constant(params * 2., tf.float32)


@pytest.mark.parametrize("kind", ["gaussian", "gllmm"])
def test_pmf_over_a_wide_range_sums_to_one(kind):
  pmf = mixture.pmf(random_params(kind, (5,), 0), 60, kind).numpy()
  assert pmf.shape == (5, 4, 121)
  assert np.all(pmf >= 0)
  np.testing.assert_allclose(pmf.sum(-1), 1., atol=1e-5)


def test_gaussian_likelihood_matches_scipy():
  params = random_params("gaussian", (3,), 1)
  y = tf.constant(np.random.default_rng(2).integers(-3, 4, (3, 4)),
                  tf.float32)
  blocks = np.split(params.numpy(), 9, axis=-1)
  logits = np.stack(blocks[0::3], -1)
  weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  means = np.stack(blocks[1::3], -1)
  scales = np.maximum(np.abs(np.stack(blocks[2::3], -1)), mixture.SCALE_MIN)
  v = y.numpy()[..., None]
  expected = (weights * (scipy.stats.norm.cdf(v + .5, means, scales)
                         - scipy.stats.norm.cdf(v - .5, means, scales))).sum(-1)
  np.testing.assert_allclose(
      mixture.likelihood(y, params, "gaussian").numpy(),
      np.maximum(expected, mixture.LIKELIHOOD_MIN), rtol=1e-4, atol=1e-7)


def test_gllmm_likelihood_of_a_latent_with_onednn_on():
  """A [B, H, W, C] latent's likelihood with oneDNN's kernels (on by
  default on AVX-512 CPUs, whose softmax refuses more than 5 dimensions)
  equals this process's."""
  params = random_params("gllmm", (2, 3, 5), 3)
  y = tf.constant(np.random.default_rng(4).integers(-3, 4, (2, 3, 5, 4)),
                  tf.float32)
  script = textwrap.dedent("""
      import json, sys
      import tensorflow as tf
      from tfvrc.entropy import mixture
      params, y = (tf.constant(a, tf.float32) for a in json.load(sys.stdin))
      print(json.dumps(mixture.likelihood(y, params, "gllmm").numpy().tolist()))
      """)
  result = subprocess.run(
      [sys.executable, "-c", script], capture_output=True, text=True,
      input=json.dumps([params.numpy().tolist(), y.numpy().tolist()]),
      timeout=300, check=False,
      env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1"))
  assert result.returncode == 0, result.stderr[-3000:]
  np.testing.assert_allclose(
      json.loads(result.stdout.strip().splitlines()[-1]),
      mixture.likelihood(y, params, "gllmm").numpy(), rtol=1e-5)


def test_quantized_tables_give_every_symbol_a_frequency_and_total_2_16():
  rng = np.random.default_rng(3)
  pmfs = rng.dirichlet(np.full(41, .05), size=200)  # many tiny masses
  pmfs[0] = 0.  # a degenerate row becomes uniform
  pmfs[1, 5] = np.nan
  cdfs = mixture.quantized_cdfs(pmfs)
  assert cdfs.shape == (200, 42)
  assert np.all(cdfs[:, 0] == 0)
  assert np.all(cdfs[:, -1] == 1 << mixture.PRECISION)
  assert np.all(np.diff(cdfs, axis=1) >= 1)


def test_range_coder_round_trip_of_a_latent_is_exact():
  rng = np.random.default_rng(4)
  symbols_per_row = 2 * 20 + 1
  pmfs = rng.dirichlet(np.ones(symbols_per_row), size=5000)
  cdfs = mixture.quantized_cdfs(pmfs)
  symbols = np.array([rng.choice(symbols_per_row, p=p) for p in pmfs])
  encoder = range_coding.Encoder()
  encoder.encode(symbols[:3000], cdfs[:3000])
  encoder.encode(symbols[3000:], cdfs[3000:])
  data = encoder.finish()
  decoder = range_coding.Decoder(data)
  decoded = np.concatenate([decoder.decode(cdfs[:1000]),
                            decoder.decode(cdfs[1000:])])
  decoder.close()
  np.testing.assert_array_equal(decoded, symbols)
  # Within 1% of the ideal code length.
  ideal = -np.log2(np.diff(cdfs, axis=1)[np.arange(5000), symbols]
                   / 2 ** 16).sum() / 8
  assert len(data) < 1.01 * ideal + 8


@pytest.mark.parametrize("symbols, cdfs, match", [
    ([-1], [[0, 10, 20]], "outside its table"),
    ([2], [[0, 10, 20]], "outside its table"),
    ([0], [[0, 0, 20]], "zero frequency"),
    ([0], [list(range(1026))], "1 <= L <= 1024"),
    ([0], [[0, 1, 1 << 25]], "at most 65536"),
    ([0], [[1, 2, 3]], "start at 0"),
])
def test_encoder_refuses_what_the_package_would_mis_code(symbols, cdfs, match):
  encoder = range_coding.Encoder()
  with pytest.raises(ValueError, match=match):
    encoder.encode(symbols, cdfs)
  encoder.finish()


def test_truncated_stream_decodes_to_something_without_hanging():
  cdfs = mixture.quantized_cdfs(np.full((2000, 11), 1 / 11))
  encoder = range_coding.Encoder()
  encoder.encode(np.arange(2000) % 11, cdfs)
  data = encoder.finish()
  decoder = range_coding.Decoder(data[:len(data) // 2])
  decoded = decoder.decode(cdfs)  # reads padding past the end
  decoder.close()
  assert decoded.shape == (2000,) and np.all((decoded >= 0) & (decoded < 11))
  assert not np.array_equal(decoded, np.arange(2000) % 11)


# The integer mixture of format version 3 (`exact_mixture`).

@pytest.mark.parametrize("family,cdf", [
    ("normal", scipy.stats.norm.cdf), ("laplace", scipy.stats.laplace.cdf),
    ("logistic", scipy.stats.logistic.cdf)])
def test_exact_cdf_tables_match_float64_to_a_unit(family, cdf):
  table = exact_mixture.cdf_table(family)
  t = np.linspace(-exact_mixture.CDF_SPAN, exact_mixture.CDF_SPAN,
                  len(table))
  np.testing.assert_allclose(table, cdf(t) * 2 ** exact_mixture.CDF_BITS,
                             atol=1)
  assert np.all(np.diff(table) >= 0)


def test_exact_exp_table_matches_float64_to_a_unit():
  table = exact_mixture.exp_table()
  d = np.arange(len(table)) / exact_mixture.EXP_GRID
  np.testing.assert_allclose(table, np.exp(-d) * 2 ** exact_mixture.WEIGHT_BITS,
                             atol=1)


@pytest.mark.parametrize("kind", ["gaussian", "gllmm"])
def test_exact_pmf_is_close_to_the_float_one(kind):
  """Parameters in units of 2^-12, as the fixed-point network gives them:
  the integer masses, normalized, within 3e-4 of the float pmf (the scale
  bound 0.11 is 451 units, 0.1% more, which moves a narrow component's mass
  by up to 2e-4), and every integer table from them valid."""
  params = np.round(random_params(kind, (50,), 5).numpy() * 2 ** 12)
  masses = exact_mixture.pmf(tf.constant(params, tf.float64), 30, kind,
                             12).numpy()
  assert masses.dtype == np.int64 and np.all(masses >= 0)
  floats = mixture.pmf(tf.constant(params / 2 ** 12, tf.float32), 30,
                       kind).numpy()
  exact = masses / masses.sum(-1, keepdims=True)
  np.testing.assert_allclose(exact, floats / floats.sum(-1, keepdims=True),
                             atol=3e-4)
  cdfs = mixture.quantized_cdfs(masses.reshape(-1, 61))
  assert np.all(cdfs[:, -1] == 1 << mixture.PRECISION)
  assert np.all(np.diff(cdfs, axis=1) >= 1)


def test_integer_tables_are_exact_and_a_zero_row_is_uniform():
  masses = np.array([[0, 0, 0, 0], [1, 2**40, 3, 0], [5, 5, 5, 5]])
  cdfs = mixture.quantized_cdfs(masses)
  total = 1 << mixture.PRECISION
  np.testing.assert_array_equal(np.diff(cdfs[0]), np.diff(cdfs[2]))
  freq = np.diff(cdfs[1])
  assert freq.sum() == total and freq.min() == 1
  assert freq[1] == total - 3
