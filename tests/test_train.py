"""The trainer: flagfile, TensorBoard, export, NaN stop, kill and resume."""

import collections
import glob
import os
import signal
import subprocess
import sys
import time

from absl import app
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from conftest import ROOT, fake_cpuinfo, random_image
from tfvrc import coding
from tfvrc import cpu
from tfvrc import export
from tfvrc import models
from tfvrc import train
from tfvrc import zoo

TINY = ["--num_filters=8", "--latent_depth=8", "--patch_size=32",
        "--batch_size=2", "--seed=1"]


def image_folder(folder, count=4):
  """`count` small PNGs of different sizes; returns the folder's path."""
  folder.mkdir()
  for i in range(count):
    Image.fromarray(random_image(40 + 8 * i, 48, seed=i)).save(
        folder / f"{i}.png")
  return str(folder)


def train_command(*flags):
  return [sys.executable, "-m", "tfvrc.train", *flags]


def train_env(**extra):
  return dict(os.environ, PYTHONPATH=ROOT, **extra)


@pytest.fixture
def parse_flags():
  """Sets the trainer's flags to these (the others at their defaults)."""
  def parse(*flags):
    train.FLAGS.unparse_flags()
    train.FLAGS(["train", *flags])
  yield parse
  train.FLAGS.unparse_flags()


@pytest.fixture
def run_in_process(parse_flags):
  """Calls `train.train()` with these flags (the others at their defaults)."""
  def run(*flags):
    parse_flags(*flags)
    return train.train()
  return run


def event_steps(folder):
  """{tag: [step, ...]} of the TensorBoard events written in `folder`."""
  steps = collections.defaultdict(list)
  for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        steps[value.tag].append(event.step)
  return steps


@pytest.mark.slow  # a minute or more
def test_flagfile_run_logs_to_tensorboard(tmp_path, run_in_process, capsys):
  images = image_folder(tmp_path / "images")
  out = tmp_path / "run"
  flagfile = tmp_path / "tiny.flags"
  flagfile.write_text("\n".join(TINY + [
      f"--data={images}", f"--val_data={images}", "--val_images=3",
      "--steps=4", "--steps_per_epoch=2", "--checkpoint_every=2",
      "--verbose=1", f"--out={out}"]))
  model = run_in_process(f"--flagfile={flagfile}")

  meta = zoo.read_meta(out / "weights.npz")
  assert meta["steps"] == 4
  assert meta["config"]["num_filters"] == 8
  assert "2/2 [====" in capsys.readouterr().out  # the progress bar
  for run in ("train", "validation"):
    tags = event_steps(out / "logs" / run)
    assert {"epoch_loss", "epoch_bpp", "epoch_psnr"} <= set(tags), run
  rate = f"rate_{model.rate_range[0]:.4g}"
  rate_tags = event_steps(out / "logs" / "rates")
  assert set(rate_tags) == {f"{m}/{rate}" for m in (
      "bpp", "psnr", "loss", "original_reconstruction")}
  assert rate_tags[f"psnr/{rate}"] == [2, 4]  # every epoch, at its step
  assert sorted(p.name for p in out.iterdir()) == [
      "backup", "logs", "weights.npz"]


def test_bfloat16_on_a_cpu_without_its_units_is_warned_about(
    tmp_path, run_in_process, monkeypatch, caplog):
  """The warning comes first, before the flags are checked (here they are
  refused, so that nothing trains)."""
  monkeypatch.setattr(cpu, "CPUINFO", fake_cpuinfo(tmp_path,
                                                   "fpu sse2 avx avx2 fma"))
  with pytest.raises(app.UsageError, match="multiple of --steps_per_epoch"):
    run_in_process("--mixed_precision", "--steps=3", "--steps_per_epoch=2")
  assert "--mixed_precision: this CPU has none of avx512_bf16" in caplog.text


def test_export_is_the_weights_file_under_its_name(tmp_path):
  weights = str(tmp_path / "weights.npz")
  model = models.create("hyperprior", num_filters=8, latent_depth=8)
  model.build_coders()
  # With its coder tables, the file loads without the slow table search.
  zoo.save(model, weights, steps=0, tables=model.coder_tables())
  path = tmp_path / "saved_model"
  path.mkdir()  # an older export is replaced
  train.export_saved_model(weights, str(path), "tiny-test")
  saved = export.SavedModelCodec(str(path))
  assert saved.codec_name == "tiny-test"
  assert saved.digest == zoo.load(weights).digest
  assert sorted(p.name for p in tmp_path.iterdir()) == [
      "saved_model", "weights.npz"]


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_finite_checkpoint(
    tmp_path, run_in_process):
  out = tmp_path / "run"
  with pytest.raises(RuntimeError, match="training stopped at step"):
    run_in_process(*TINY, f"--data={image_folder(tmp_path / 'images')}",
                   "--lr=1e30", "--steps=6", "--steps_per_epoch=3",
                   "--checkpoint_every=1", f"--out={out}")
  assert not (out / "weights.npz").exists()
  checkpoint = tf.train.load_checkpoint(str(out / "backup" / "chief"))
  for name in checkpoint.get_variable_to_shape_map():
    value = checkpoint.get_tensor(name)
    if np.issubdtype(np.asarray(value).dtype, np.floating):
      assert np.isfinite(value).all(), name


@pytest.mark.slow
def test_killed_run_resumes_mid_epoch_and_ends_at_steps(tmp_path):
  out = tmp_path / "run"
  command = train_command(
      *TINY, f"--data={image_folder(tmp_path / 'images')}", "--steps=40",
      "--steps_per_epoch=40", "--checkpoint_every=10", "--export",
      "--name=resumed", f"--out={out}")
  with open(tmp_path / "first.log", "w") as log:
    first = subprocess.Popen(command, env=train_env(), stdout=log,
                             stderr=subprocess.STDOUT)
    checkpoint = out / "backup" / "chief" / "checkpoint"
    deadline = time.time() + 300
    while not checkpoint.exists():
      assert first.poll() is None and time.time() < deadline, (
          (tmp_path / "first.log").read_text())
      time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
  saved = train.backed_up_step(str(out / "backup"))
  # One 40-step epoch: every checkpoint before the end is mid-epoch.
  assert saved in (10, 20, 30)

  second = subprocess.run(command, env=train_env(), capture_output=True,
                          text=True, timeout=600)
  assert second.returncode == 0, second.stderr
  assert f"training from step {saved} to 40" in second.stderr
  # Resuming at the epoch's start instead would run past 40 steps.
  assert zoo.read_meta(out / "weights.npz")["steps"] == 40
  assert export.SavedModelCodec(str(out / "saved_model")).codec_name == (
      "resumed")


@pytest.mark.parametrize("model,flag", [
    ("modulated", "--gain_init=ones"), ("hyperprior", "--lmbdas=0.01,0.1"),
    ("gained", "--training=sample"), ("gained", "--lmbda=0.01"),
    ("modulated", "--context=checkerboard")])
def test_a_flag_that_does_not_apply_is_refused(model, flag, tmp_path,
                                               run_in_process):
  with pytest.raises(app.UsageError, match=f"{flag.split('=')[0]} does not "
                     f"apply to --model={model}"):
    run_in_process(*TINY, f"--model={model}", flag, f"--out={tmp_path}",
                   f"--data={image_folder(tmp_path / 'images')}")


@pytest.mark.parametrize("quantization", ["noise", "mixed"])
def test_quantization_flag_reaches_the_hyperprior_codec(quantization,
                                                      parse_flags):
  parse_flags(*TINY, "--model=gained", f"--quantization={quantization}")
  model = train.create_model()
  assert model.hyperprior_codec.rounded_synthesis_input == (
      quantization == "mixed")


@pytest.mark.parametrize("model", ["scalable_rnn", "asymmetric_msrb"])
def test_mixed_quantization_is_refused_without_a_hyperprior_codec(
    model, tmp_path, run_in_process):
  with pytest.raises(app.UsageError, match="--quantization=mixed does not "
                     f"apply to --model={model}"):
    run_in_process(*[f for f in TINY if "latent_depth" not in f],
                   f"--model={model}", "--quantization=mixed",
                   f"--out={tmp_path}",
                   f"--data={image_folder(tmp_path / 'images')}")


def test_lmbda_power_weights_each_crop_by_its_lambda(parse_flags):
  parse_flags(*TINY, "--model=gained", "--lmbdas=0.001,0.01,0.1",
              "--lmbda_power=0.5")
  model = train.create_model()
  np.testing.assert_allclose(
      model.loss_weights(tf.constant([0., 1., 2., 1.5])).numpy(),
      [10 ** 0.5, 1., 10 ** -0.5, 10 ** -0.25], rtol=1e-5)


def test_a_crop_weighted_by_lmbda_power_steers_the_step_so_much_less(
    parse_flags):
  """With every crop at lambda = 10x the default's and power 1, the loss's
  gradient, so a plain SGD step, is a tenth of the unweighted one."""
  x = tf.constant(random_image(32, 32, seed=3)[None].repeat(2, 0),
                  tf.float32)
  steps, start = [], None
  for power in ("0", "1"):
    parse_flags(*TINY, "--model=gained", "--lmbdas=0.001,0.01,0.1",
                f"--lmbda_power={power}")
    model = train.create_model()
    model.compile(optimizer=tf.keras.optimizers.SGD(1e-3))
    model.sample_rates = lambda batch_size: tf.fill([batch_size], 2.)
    start = start or model.get_weights()
    model.set_weights(start)
    before = [v.numpy() for v in model.trainable_variables]
    tf.random.set_seed(6)  # the same noise in both steps
    model.train_step(x)
    steps.append(np.concatenate([(v.numpy() - b).ravel() for v, b in zip(
        model.trainable_variables, before)]))
  assert np.abs(steps[0]).max() > 0
  np.testing.assert_allclose(steps[1], steps[0] / 10, rtol=1e-3,
                             atol=1e-6 * np.abs(steps[0]).max())


@pytest.mark.parametrize("model", ["hyperprior", "scalable_rnn"])
def test_lmbda_power_is_refused_where_crops_share_their_lambdas(
    model, parse_flags):
  parse_flags(*[f for f in TINY if "latent_depth" not in f],
              f"--model={model}", "--lmbda_power=0.5")
  with pytest.raises(app.UsageError, match="--lmbda_power does not apply "
                     f"to --model={model}"):
    train.create_model()


@pytest.mark.slow
def test_a_checkpoint_of_another_model_is_refused(tmp_path, run_in_process):
  """Keras would restore the variables that match and keep the others; a
  resumed run must have them all."""
  images = image_folder(tmp_path / "images")
  common = [*TINY, f"--data={images}", "--steps_per_epoch=2",
            "--checkpoint_every=2", f"--out={tmp_path / 'run'}"]
  run_in_process(*common, "--model=gained", "--lmbdas=0.001,0.01",
                 "--steps=2")
  with pytest.raises(app.UsageError, match="does not fit this model"):
    run_in_process(*common, "--steps=4")


@pytest.mark.slow  # a minute or more
def test_trains_a_gained_asymmetric_model(tmp_path, run_in_process):
  """The family flags reach the model; its weights file rebuilds it."""
  run_in_process(*TINY, f"--data={image_folder(tmp_path / 'images')}",
                 "--model=gained", "--lmbdas=0.001,0.01,0.1",
                 "--entropy_model=asymmetric", "--steps=2",
                 "--steps_per_epoch=2", f"--out={tmp_path / 'run'}")
  loaded = zoo.load(str(tmp_path / "run" / "weights.npz")).model
  assert loaded.family == "gained"
  assert loaded.get_config()["lmbdas"] == [0.001, 0.01, 0.1]
  assert loaded.get_config()["entropy_model"] == "asymmetric"
  assert loaded.rate_range == (0., 2.)


@pytest.mark.slow  # a minute or more
def test_gained_model_starts_from_a_trained_baseline(tmp_path, run_in_process,
                                                     baseline):
  """--init_from: the baseline's weights, then latent gains around the
  baseline's lambda, sqrt(lambda_s / lambda), and hyper gains at one."""
  config = baseline.model.get_config()
  run_in_process(f"--data={image_folder(tmp_path / 'images')}",
                 "--model=gained", "--lmbdas=0.002,0.02",
                 f"--num_filters={config['num_filters']}",
                 f"--latent_depth={config['latent_depth']}",
                 "--patch_size=32", "--batch_size=2", "--steps=1",
                 "--steps_per_epoch=1", "--lr=1e-12",
                 f"--init_from={zoo.path_of(zoo.BASELINE_MODEL)}",
                 f"--out={tmp_path / 'run'}")
  gained = zoo.load(str(tmp_path / "run" / "weights.npz")).model
  components = baseline.model.legacy_components()
  for source, target in zip(components, gained.legacy_components()):
    for baseline_weight, weight in zip(source.trainable_variables,
                                       target.trainable_variables):
      np.testing.assert_allclose(weight.numpy(), baseline_weight.numpy(),
                                 atol=1e-3)
  expected = np.broadcast_to(
      np.sqrt(np.array([0.002, 0.02]) / config["lmbda"])[:, None],
      (2, config["latent_depth"]))
  gain, inverse_gain = gained.latent_gains
  np.testing.assert_allclose(gain.gains.numpy(), expected, rtol=1e-3)
  np.testing.assert_allclose(inverse_gain.gains.numpy(), 1 / expected,
                             rtol=1e-3)
  for unit in gained.hyper_gains:
    np.testing.assert_array_equal(unit.gains.numpy(), 1.)
  with pytest.raises(ValueError, match="does not fit"):
    zoo.init_from(models.create("hyperprior", num_filters=8, latent_depth=8),
                  zoo.path_of(zoo.BASELINE_MODEL))


# Every family, with what it needs to train from scratch in a few steps.
FAMILY_FLAGS = {
    "hyperprior": [],
    "gained": ["--lmbdas=0.002,0.02"],
    "modulated": ["--lmbdas=0.002,0.02"],
    "modulated-factorized": ["--lmbdas=0.002,0.02"],
    "scaled-bottleneck": ["--lmbdas=0.002,0.02"],
    "scalable_rnn": ["--lmbdas=0.01,0.02"],
    "asymmetric_msrb": ["--decoder_msrbs=3", "--mixture=gllmm"],
    "asymmetric_msrb-gained": ["--lmbdas=0.002,0.02", "--nopqf",
                               "--noimportance_map"],
}


# ... and the checkerboard context, in the family that would ship it.
VARIANTS = dict(
    {family: (family, flags) for family, flags in FAMILY_FLAGS.items()},
    **{"gained-checkerboard": ("gained", FAMILY_FLAGS["gained"]
                               + ["--context=checkerboard"])})


# A minute or more each: `pytest -m slow`.
@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_bfloat16_training_gives_a_model_that_round_trips(variant, tmp_path):
  """bfloat16 training of every family (own process: the precision policy
  is global); the written model codes in float32, bit-exactly."""
  assert set(FAMILY_FLAGS) == set(models.FAMILIES)
  family, flags = VARIANTS[variant]
  tiny = [f for f in TINY if "latent_depth" in models.config_keys(family)
          or not f.startswith("--latent_depth")]  # M = N in some families
  result = subprocess.run(train_command(
      *tiny, f"--model={family}", *flags,
      f"--data={image_folder(tmp_path / 'images')}", "--steps=2",
      "--steps_per_epoch=2", "--mixed_precision", f"--out={tmp_path / 'run'}"),
      env=train_env(), capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-3000:]
  model = zoo.load(str(tmp_path / "run" / "weights.npz"))
  assert zoo.read_meta(str(tmp_path / "run" / "weights.npz"))["steps"] == 2
  image = random_image(24, 40)
  for rate in sorted({model.rate_range[0], model.rate_range[1]}):
    expected, _ = model.reconstruct(image, rate)
    np.testing.assert_array_equal(
        coding.decode(model, coding.encode(model, image, rate)),
        expected.numpy())
