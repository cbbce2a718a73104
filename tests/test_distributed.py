"""Distributed training on this machine: two logical CPUs, two local workers."""

import json
import os
import socket
import subprocess

import sys

import numpy as np
import pytest

from test_train import TINY, image_folder, train_command, train_env
from tfvrc import zoo

STEPS = ["--steps=4", "--steps_per_epoch=2", "--checkpoint_every=2"]


def replica_weights(dump):
  """{replica: [weights]} from a --dump_weights file."""
  with np.load(dump) as f:
    replicas = sorted({k.split("_")[0] for k in f.files})
    return {r: [f[k] for k in sorted(f.files) if k.startswith(r + "_")]
            for r in replicas}


def assert_same(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)


def assert_written_weights(out, weights):
  """OUT/weights.npz is after all the steps and holds `weights` (float16,
  model order, which is the order the file stores them in)."""
  assert zoo.read_meta(out / "weights.npz")["steps"] == 4
  with np.load(out / "weights.npz") as f:
    assert_same([f[k] for k in f.files if k.startswith(zoo.KEY_PREFIX)],
                [w.astype(np.float16) for w in weights])


def free_ports(count):
  """Ports free on the loopback interface (all held until all are chosen)."""
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_importing_the_trainer_leaves_tensorflow_unconfigured():
  """--cpu_replicas and MultiWorkerMirroredStrategy configure the runtime, so
  no tfvrc module may create a tensor when imported."""
  result = subprocess.run([sys.executable, "-c", (
      "import tensorflow as tf; from tfvrc import train; train.split_cpu(2); "
      "print(len(tf.config.list_logical_devices('CPU')))")],
                          env=train_env(), capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split() == ["2"]


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus(tmp_path):
  out = tmp_path / "run"
  result = subprocess.run(train_command(
      *TINY, *STEPS, f"--data={image_folder(tmp_path / 'images')}",
      "--strategy=mirrored", "--cpu_replicas=2", f"--out={out}",
      f"--dump_weights={tmp_path / 'dump.npz'}"), env=train_env(),
      capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr
  assert "mirrored strategy: 2 replicas in sync" in result.stderr
  replicas = replica_weights(tmp_path / "dump.npz")
  assert sorted(replicas) == ["r0", "r1"]
  assert_same(replicas["r0"], replicas["r1"])
  assert_written_weights(out, replicas["r0"])


@pytest.mark.slow
def test_multi_worker_with_two_local_processes(tmp_path):
  images = image_folder(tmp_path / "images")
  cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
  workers = []
  for i in range(2):
    # Separate output folders show what each worker leaves behind (a real
    # cluster shares one, so that every worker restores the same backup).
    config = {"cluster": cluster, "task": {"type": "worker", "index": i}}
    with open(tmp_path / f"worker{i}.log", "w") as log:
      workers.append(subprocess.Popen(train_command(
          *TINY, *STEPS, f"--data={images}", f"--val_data={images}",
          "--strategy=multi_worker", f"--out={tmp_path / f'out{i}'}",
          f"--dump_weights={tmp_path / f'dump{i}.npz'}"),
          env=train_env(TF_CONFIG=json.dumps(config)), stdout=log,
          stderr=subprocess.STDOUT))
  try:
    codes = [w.wait(timeout=600) for w in workers]
  finally:
    for w in workers:
      w.kill()
  logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
  assert codes == [0, 0], logs
  assert "multi_worker strategy: 2 replicas in sync, chief worker" in logs[0]
  assert "non-chief worker" in logs[1]

  chief, other = (replica_weights(tmp_path / f"dump{i}.npz") for i in (0, 1))
  assert_same(chief["r0"], other["r0"])
  assert_written_weights(tmp_path / "out0", chief["r0"])
  assert (tmp_path / "out0" / "backup" / "chief" / "checkpoint").exists()
  assert os.listdir(tmp_path / "out0" / "logs") == ["rates", "train",
                                                     "validation"]
  # The non-chief took part in every checkpoint, into folders now removed.
  assert [files for _, _, files in os.walk(tmp_path / "out1") if files] == []
