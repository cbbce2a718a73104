"""Shared fixtures: the built-in model, the shipped sample, the Kodak set."""

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tests run the command line without its cache of traced models (so they
# test the Python path and write nothing to the home folder); the cache's own
# test sets TFVRC_CACHE.
os.environ["TFVRC_CACHE"] = "off"
KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")
TRAIN = os.path.join(ROOT, "..", "shared", "data", "train")


def pytest_xdist_auto_num_workers(config):
  """`-n auto` (setup.cfg): one test process per core, at most 4. Much of a
  test's time is single-threaded Python (tracing, building models), so
  processes side by side use the cores that one leaves idle; each loads
  TensorFlow and its models, so more than 4 would mostly add memory."""
  del config
  cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else os.cpu_count())  # macOS has no affinity
  return min(4, cores or 1)


@pytest.fixture(scope="session")
def model():
  from tfvrc import zoo
  return zoo.load()


@pytest.fixture(scope="session")
def baseline():
  """The shipped fixed-rate hyperprior the variable-rate families start from."""
  from tfvrc import zoo
  return zoo.load(zoo.BASELINE_MODEL)


@pytest.fixture(scope="session")
def sample():
  from tfvrc import cli, io
  return io.read_image(cli.SAMPLE_IMAGE)


@pytest.fixture(scope="session")
def kodak():
  """Sorted Kodak image paths; skips when ../shared/data/kodak is absent."""
  if not os.path.isdir(KODAK):
    pytest.skip(f"Kodak set not found at {KODAK}")
  return sorted(os.path.join(KODAK, f) for f in os.listdir(KODAK)
                if f.endswith(".png"))


def random_image(height, width, seed=0):
  """A smooth-ish random image (noise would be unrealistically expensive)."""
  rng = np.random.default_rng(seed)
  base = rng.integers(0, 256, (height // 4 + 2, width // 4 + 2, 3))
  image = np.kron(base, np.ones((4, 4, 1)))[:height, :width]
  return image.astype(np.uint8)


def fake_cpuinfo(folder, flags, key="flags"):
  """A /proc/cpuinfo of two processors listing `flags` under `key`, written
  in `folder`; returns its path (for `tfvrc.cpu.CPUINFO`)."""
  path = folder / "cpuinfo"
  path.write_text("".join(f"processor\t: {i}\nmodel name\t: test\n"
                          f"{key}\t\t: {flags}\n\n" for i in range(2)))
  return str(path)


def run_tfvrc(*args, cwd=None, **env):
  """Runs `python -m tfvrc ARGS` in a fresh process (with `env` added to
  the environment); returns CompletedProcess."""
  return subprocess.run([sys.executable, "-m", "tfvrc", *args], cwd=cwd,
                        capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, PYTHONPATH=ROOT, **env))
