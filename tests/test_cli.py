"""The `tfvrc` command end to end, in fresh processes, as a user runs it."""

import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image
import pytest

from conftest import ROOT
from conftest import run_tfvrc
from tfvrc import cli
from tfvrc import coding
from tfvrc import zoo


def assert_clean_error(result, message):
  assert result.returncode == 1, result.stderr
  assert message in result.stderr
  assert "Traceback" not in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
  """The shipped sample compressed once with the CLI."""
  folder = tmp_path_factory.mktemp("cli")
  out = folder / "kodim23.tfvrc"
  result = run_tfvrc("compress", cli.SAMPLE_IMAGE, str(out))
  assert result.returncode == 0, result.stderr
  assert "bpp" in result.stdout
  return out


def test_compress_decompress_info(compressed, tmp_path):
  decoded = tmp_path / "decoded.png"
  result = run_tfvrc("decompress", str(compressed), str(decoded))
  assert result.returncode == 0, result.stderr
  assert Image.open(decoded).size == (768, 512)
  info = run_tfvrc("info", str(compressed))
  assert info.returncode == 0
  assert "image:   768x512" in info.stdout
  assert "format:  version 3 (fixed-point table indexes)" in info.stdout
  assert zoo.DEFAULT_MODEL in info.stdout


def test_a_version_1_file_gets_the_float_path_with_the_model_named():
  """A file written before format version 3 needs the float table path,
  also when --model names the model (tests/test_pinned.py decodes it
  without)."""
  old = os.path.join(ROOT, "tests", "data", "pinned",
                     "hyperprior-mse-q3-29de74cbb2dc6586.tfvrc")
  with open(old, "rb") as f:
    data = f.read()
  codec = cli._codec_for(data, zoo.BASELINE_MODEL, "float32")  # pylint: disable=protected-access
  np.testing.assert_array_equal(
      coding.decode(codec, data),
      coding.decode(zoo.for_file(coding.read_header(data)), data))


def test_existing_output_needs_force(compressed, tmp_path):
  target = tmp_path / "decoded.png"
  target.write_bytes(b"keep me")
  result = run_tfvrc("decompress", str(compressed), str(target))
  assert_clean_error(result, "exists (use --force")
  assert target.read_bytes() == b"keep me"
  result = run_tfvrc("decompress", str(compressed), str(target), "--force")
  assert result.returncode == 0, result.stderr
  assert Image.open(target).size == (768, 512)


def test_corrupt_truncated_and_foreign_bitstreams(compressed, tmp_path):
  data = compressed.read_bytes()
  cases = {
      "flipped.tfvrc": (data[:200] + bytes([data[200] ^ 1]) + data[201:],
                        "checksum mismatch"),
      "cut.tfvrc": (data[:len(data) // 2], "truncated"),
      "image.tfvrc": (open(cli.SAMPLE_IMAGE, "rb").read()[:4096],
                      "bad magic"),
  }
  for name, (content, message) in cases.items():
    (tmp_path / name).write_bytes(content)
    result = run_tfvrc("decompress", str(tmp_path / name),
                       str(tmp_path / (name + ".png")))
    assert_clean_error(result, message)
    assert not (tmp_path / (name + ".png")).exists()


def test_bad_inputs_to_compress(tmp_path):
  (tmp_path / "notes.png").write_text("hello")
  for args, message in [
      ((str(tmp_path / "missing.png"),), "no such file"),
      ((str(tmp_path / "notes.png"),), "not a readable image"),
      ((cli.SAMPLE_IMAGE, str(tmp_path / "o.tfvrc"), "--rate", "1000"),
       "outside the range"),
      ((cli.SAMPLE_IMAGE, str(tmp_path / "o.tfvrc"), "--model", "nope"),
       "unknown model"),
      ((cli.SAMPLE_IMAGE, str(tmp_path / "no" / "o.tfvrc")),
       "does not exist"),
  ]:
    assert_clean_error(run_tfvrc("compress", *args), message)
  assert sorted(os.listdir(tmp_path)) == ["notes.png"]


def test_models_lists_the_default_with_its_range():
  result = run_tfvrc("models")
  assert result.returncode == 0, result.stderr
  line = next(l for l in result.stdout.splitlines() if "(default)" in l)
  assert "rate_range=[" in line and "params=" in line


def test_demo_writes_files_and_reports(tmp_path):
  result = run_tfvrc("demo", "--out", str(tmp_path / "demo"))
  assert result.returncode == 0, result.stderr
  assert "PSNR" in result.stdout
  assert (tmp_path / "demo" / "demo-0.tfvrc").exists()
  assert (tmp_path / "demo" / "demo-0.png").exists()


@pytest.mark.slow
def test_target_bpp_on_the_command_line(tmp_path):
  out = tmp_path / "t.tfvrc"
  result = run_tfvrc("compress", cli.SAMPLE_IMAGE, str(out),
                     "--target-bpp", "5")
  assert result.returncode == 0, result.stderr
  assert out.stat().st_size * 8 / (768 * 512) <= 5
  assert_clean_error(run_tfvrc("compress", cli.SAMPLE_IMAGE,
                               str(tmp_path / "u.tfvrc"), "--target-bpp",
                               "0.001"), "no rate")


def test_train_takes_the_trainer_flags():
  """`tfvrc train --flag ...` reaches the absl trainer, which refuses bad
  flag values and unknown flags with a non-zero exit."""
  result = run_tfvrc("train", "--steps", "3", "--steps_per_epoch", "2")
  assert result.returncode != 0
  assert "--steps must be a multiple of --steps_per_epoch" in result.stderr
  result = run_tfvrc("train", "--no_such_flag")
  assert result.returncode != 0
  assert "no_such_flag" in result.stderr


@pytest.mark.slow
def test_modulated_model_codes_any_lambda_in_its_range(tmp_path):
  """--rate is lambda for the shipped MAE: between trained points it codes,
  outside the range it is refused."""
  out = tmp_path / "mae.tfvrc"
  result = run_tfvrc("compress", cli.SAMPLE_IMAGE, str(out), "--model",
                     "modulated-mse", "--rate", "0.01")
  assert result.returncode == 0, result.stderr
  assert "rate:    0.01" in run_tfvrc("info", str(out)).stdout
  result = run_tfvrc("decompress", str(out), str(tmp_path / "mae.png"))
  assert result.returncode == 0, result.stderr
  assert_clean_error(
      run_tfvrc("compress", cli.SAMPLE_IMAGE, str(tmp_path / "x.tfvrc"),
                "--model", "modulated-mse", "--rate", "0.5"),
      "outside the range")


def test_a_cached_model_writes_and_reads_the_same_files(tmp_path, sample):
  """The second run codes through the frozen signatures the first cached,
  without importing tensorflow_compression or any model code; both write
  the same bytes, and its decode equals the Python model's."""
  from tfvrc import coding, io  # pylint: disable=import-outside-toplevel
  cache = tmp_path / "cache"
  image = tmp_path / "crop.png"
  io.write_image(str(image), sample[:64, :96])
  name = zoo.BASELINE_MODEL
  args = ["compress", "--model", name, str(image)]
  first = run_tfvrc(*args, str(tmp_path / "0.tfvrc"), TFVRC_CACHE=str(cache))
  assert first.returncode == 0, first.stderr
  assert "caching the frozen" in first.stderr
  script = textwrap.dedent(f"""
      import sys
      from tfvrc import cli
      code = cli.main({args + [str(tmp_path / "1.tfvrc")]!r})
      print(code, sorted(m for m in sys.modules
                         if m.startswith(("tensorflow_compression",
                                          "tensorflow_probability",
                                          "tfvrc.models", "tfvrc.layers")))[:3])
      """)
  second = subprocess.run(
      [sys.executable, "-c", script], capture_output=True, text=True,
      timeout=600, check=False,
      env=dict(os.environ, PYTHONPATH=ROOT, TFVRC_CACHE=str(cache)))
  assert second.stdout.split("\n")[-2] == "0 []", second.stderr[-3000:]
  assert "caching" not in second.stderr
  assert len(os.listdir(cache)) == 1
  data = [(tmp_path / f"{i}.tfvrc").read_bytes() for i in range(2)]
  assert data[0] == data[1]
  result = run_tfvrc("decompress", str(tmp_path / "1.tfvrc"),
                     str(tmp_path / "out.png"), TFVRC_CACHE=str(cache))
  assert result.returncode == 0, result.stderr
  np.testing.assert_array_equal(io.read_image(str(tmp_path / "out.png")),
                                coding.decode(zoo.load(name), data[1]))
