"""Where a cached one-image `tfvrc compress` / `decompress` spends its time:
the steps the command runs, timed inside a fresh process each (the cache
primed first), with the serving backend's graph loading and running split
out of the coding. Prints the medians per step; writes JSON.

  python experiments/speed/cli_breakdown.py
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

from absl import app
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("image", "tfvrc/samples/kodim23.png", "Image (relative "
                    "paths from the repo root).")
flags.DEFINE_integer("runs", 3, "Runs of each command.")
flags.DEFINE_string("out", "experiments/speed/results/cli_breakdown.json",
                    "JSON output (relative paths from the repo root).")

# What `tfvrc compress` / `decompress` run (cli.cmd_*), with a clock.
STEPS = textwrap.dedent("""
    import json, os, sys, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    clock, steps = time.perf_counter(), {}
    def step(name):
      global clock
      now = time.perf_counter()
      steps[name] = steps.get(name, 0.) + now - clock
      clock = now
    import tensorflow
    step("import tensorflow")
    from tfvrc import coding, io, zoo
    step("import tfvrc")
    command, source, target = sys.argv[1:]
    if command == "compress":
      codec = zoo.load(cached=True)
    else:
      data = open(source, "rb").read()
      codec = zoo.for_file(coding.read_header(data), cached=True)
    step("open the cached model (describe)")
    backend, predict = codec.backend, codec.backend.predict
    def timed_predict(signature, inputs):
      step("range coding and the rest")
      if signature not in backend.imported:
        backend._import(signature)
        step("load graphs")
      outputs = predict(signature, inputs)
      step("run graphs")
      return outputs
    backend.predict = timed_predict
    if command == "compress":
      image = io.read_image(source)
      step("read the image")
      data = coding.encode(codec, image)
      step("range coding and the rest")
      io.atomic_write(target, data, force=True)
    else:
      image = coding.decode(codec, data)
      step("range coding and the rest")
      io.write_image(target, image, force=True)
    step("write the output")
    print(json.dumps(steps))
    sys.stdout.flush()
    os._exit(0)
    """)


def main(_):
  results = {}
  with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, TFVRC_CACHE=os.path.join(tmp, "cache"),
               PYTHONPATH=REPO)
    coded, decoded = os.path.join(tmp, "a.tfvrc"), os.path.join(tmp, "a.png")
    subprocess.run([sys.executable, "-m", "tfvrc", "compress",
                    os.path.join(REPO, FLAGS.image), coded], env=env,
                   check=True, capture_output=True)  # primes the cache
    for command, args in (("compress", [os.path.join(REPO, FLAGS.image),
                                        coded]),
                          ("decompress", [coded, decoded])):
      runs = [json.loads(subprocess.run(
          [sys.executable, "-c", STEPS, command, *args], env=env, check=True,
          capture_output=True, text=True).stdout) for _ in range(FLAGS.runs)]
      results[command] = {name: statistics.median(r.get(name, 0.)
                                                  for r in runs)
                          for name in runs[0]}
      print(f"{command} (medians of {FLAGS.runs} processes, s)")
      for name, seconds in results[command].items():
        print(f"  {name:34}{seconds:6.2f}")
      print(f"  {'total in the process':34}"
            f"{sum(results[command].values()):6.2f}")
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w") as f:
    json.dump(dict(image=FLAGS.image, runs=FLAGS.runs,
                   loadavg_at_start=os.getloadavg(), **results), f, indent=2)
  print(f"results in {out}")


if __name__ == "__main__":
  app.run(main)
