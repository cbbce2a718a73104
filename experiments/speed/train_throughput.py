"""Training throughput of the trainer's step on this machine.

For each configuration (--configs: the default model's, the fixed-rate
baseline at N=128, M=192 with 256x256 crops, a small one, and the shipped
scalable RNN's and asymmetric MSRB's), in float32 and in bfloat16
(`--mixed_precision`), with and without XLA (`--jit`, unless --noxla), a child
process builds the model exactly as `tfvrc.train` does, feeds it the trainer's
input pipeline and runs Keras `fit`: --warmup_steps (tracing, filling the
image cache), then --measure_steps timed from the end of the last warm-up
step. Prints steps/s, images/s and each setting's speed-up over float32
without XLA, and writes JSON. On a shared CPU the numbers are noisy: the load
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
flags.DEFINE_list("configs", ["default", "baseline", "small"],
                  "Configurations to measure.")
flags.DEFINE_bool("xla", True, "Also measure each setting with XLA.")
flags.DEFINE_bool("child", False, "Internal: measure the configuration the "
                  "trainer's flags give and print it as JSON.")

CONFIGS = {
    "default": ["--model=gained", "--num_filters=128", "--latent_depth=192",
                "--patch_size=128", "--batch_size=8"],
    "baseline": ["--num_filters=128", "--latent_depth=192",
                 "--patch_size=256", "--batch_size=8"],
    "small": ["--num_filters=64", "--latent_depth=96", "--patch_size=128",
              "--batch_size=8"],
    "rnn": ["--model=scalable_rnn", "--lmbdas=0.01,0.02,0.04,0.08",
            "--num_filters=32", "--latent_depth=128", "--patch_size=128",
            "--batch_size=4"],
    "msrb": ["--model=asymmetric_msrb", "--num_filters=64",
             "--patch_size=128", "--batch_size=8"],
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


def run_child(name, precision, jit):
  """Measures one configuration in a fresh process; its result or error."""
  command = [sys.executable, os.path.abspath(__file__), "--child",
             f"--data={os.path.abspath(FLAGS.data)}",
             f"--warmup_steps={FLAGS.warmup_steps}",
             f"--measure_steps={FLAGS.measure_steps}",
             *CONFIGS[name], f"--jit={jit}",
             f"--mixed_precision={precision == 'bfloat16'}"]
  result = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                          check=False)
  row = dict(config=name, flags=CONFIGS[name], precision=precision, jit=jit)
  if result.returncode:
    return dict(row, error=result.stderr.strip().splitlines()[-1])
  return dict(row, **json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv):
  del argv
  if FLAGS.child:
    print(json.dumps(measure()))
    return
  load = os.getloadavg()
  rows = [run_child(name, precision, jit) for name in FLAGS.configs
          for precision in ("float32", "bfloat16")
          for jit in ((False, True) if FLAGS.xla else (False,))]
  reference = {r["config"]: r.get("steps_per_s") for r in rows
               if r["precision"] == "float32" and not r["jit"]}
  for r in rows:
    if "error" not in r and reference[r["config"]]:
      r["speedup"] = r["steps_per_s"] / reference[r["config"]]
  print(f"{'config':<10} {'precision':<9} {'jit':<5} {'steps/s':>8} "
        f"{'images/s':>9} {'vs f32':>7}")
  for r in rows:
    numbers = (f"{r['steps_per_s']:>8.3f} {r['images_per_s']:>9.2f} "
               f"{r.get('speedup', float('nan')):>6.2f}x"
               if "error" not in r else f"failed: {r['error']}")
    print(f"{r['config']:<10} {r['precision']:<9} {str(r['jit']):<5} "
          f"{numbers}")
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
