"""Training throughput of the trainer's step on this machine.

For each configuration (the baseline at N=128, M=192 with 256x256 crops, and a
small one), with and without XLA (`--jit`), a child process builds the model
exactly as `tfvrc.train` does, feeds it the trainer's input pipeline and runs
Keras `fit`: --warmup_steps (tracing, filling the image cache), then
--measure_steps timed from the end of the last warm-up step. Prints images/s
and steps/s and writes JSON. On a shared CPU the numbers are noisy: the load
average at the start is recorded beside them.

  python experiments/speed/train_throughput.py --measure_steps 5
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import time

from absl import app
from absl import flags
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

# pylint: disable=wrong-import-position
from tfvrc import data
from tfvrc import train  # defines the model, data and --jit flags a child uses

FLAGS = flags.FLAGS
flags.DEFINE_integer("warmup_steps", 2, "Untimed steps first.", lower_bound=1)
flags.DEFINE_integer("measure_steps", 5, "Timed steps.", lower_bound=1)
flags.DEFINE_string("json", "experiments/speed/results/train_throughput.json",
                    "JSON output; a relative path is taken from the repo root.")
flags.DEFINE_bool("child", False, "Internal: measure the configuration the "
                  "trainer's flags give and print it as JSON.")

CONFIGS = {
    "baseline": ["--num_filters=128", "--latent_depth=192",
                 "--patch_size=256", "--batch_size=8"],
    "small": ["--num_filters=64", "--latent_depth=96", "--patch_size=128",
              "--batch_size=8"],
}


class StepTimes(tf.keras.callbacks.Callback):
  """perf_counter() at the end of every training step."""

  def __init__(self):
    super().__init__()
    self.times = []

  def on_train_batch_end(self, batch, logs=None):
    self.times.append(time.perf_counter())


def measure():
  """Steps/s and images/s of `fit` on the trainer's model and input."""
  model = train.create_model()
  dataset = data.training_dataset(FLAGS.data, FLAGS.patch_size,
                                  FLAGS.batch_size, seed=0)
  steps = StepTimes()
  model.fit(dataset, epochs=1, verbose=0, callbacks=[steps],
            steps_per_epoch=FLAGS.warmup_steps + FLAGS.measure_steps)
  seconds = steps.times[-1] - steps.times[FLAGS.warmup_steps - 1]
  return dict(steps_per_s=FLAGS.measure_steps / seconds,
              images_per_s=FLAGS.measure_steps * FLAGS.batch_size / seconds)


def run_child(name, jit):
  """Measures one configuration in a fresh process; its result or error."""
  command = [sys.executable, os.path.abspath(__file__), "--child",
             f"--data={os.path.abspath(FLAGS.data)}",
             f"--warmup_steps={FLAGS.warmup_steps}",
             f"--measure_steps={FLAGS.measure_steps}",
             *CONFIGS[name], f"--jit={jit}"]
  result = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                          check=False)
  row = dict(config=name, flags=CONFIGS[name], jit=jit)
  if result.returncode:
    return dict(row, error=result.stderr.strip().splitlines()[-1])
  return dict(row, **json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv):
  del argv
  if FLAGS.child:
    print(json.dumps(measure()))
    return
  load = os.getloadavg()
  rows = [run_child(name, jit) for name in CONFIGS for jit in (False, True)]
  print(f"{'config':<10} {'jit':<5} {'steps/s':>8} {'images/s':>9}")
  for r in rows:
    numbers = (f"{r['steps_per_s']:>8.3f} {r['images_per_s']:>9.2f}"
               if "error" not in r else f"failed: {r['error']}")
    print(f"{r['config']:<10} {str(r['jit']):<5} {numbers}")
  print(f"(load average at start {load[0]:.2f} on {os.cpu_count()} CPUs: "
        "numbers on a shared CPU are noisy)")
  out = os.path.join(REPO, FLAGS.json)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w") as f:
    json.dump(dict(
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        machine=platform.processor() or platform.machine(),
        cpus=os.cpu_count(), load_average_at_start=load,
        warmup_steps=FLAGS.warmup_steps, measure_steps=FLAGS.measure_steps,
        data=FLAGS.data, results=rows), f, indent=2)
  print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
