"""Long fuzz of the decoders: every shipped model and the MSRB family.

Each case changes a file the model wrote (a crop of the shipped sample, at
its default rate) and decodes it. Kinds: random bytes; bit flips and cuts of
the file (the container's checksums refuse most); a huge value written where
a length or size may stand; and, repacked with valid checksums, changed
payload strings, changed image sizes and dropped or repeated layers. A case
ends refused (BitstreamError), decoded (an image of the header's size),
wrong (any other exception, or an image of another size), hung (over
--deadline seconds) or crashed (the process died). Cases run in child
processes, one per model, each restarted after a hang or a crash, so both
are counted. Prints a table and writes JSON.

  python experiments/reliability/fuzz.py                 # 10,000 cases
  python experiments/reliability/fuzz.py --cases 300     # a quick look
"""

import collections
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import zlib

from absl import app
from absl import flags
import numpy as np
# Before app.run: imported inside its main, TensorFlow 2.14 breaks tensor
# comparisons in tf.functions (tfvrc.models.base.check_graph_equality).
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FLAGS = flags.FLAGS
flags.DEFINE_integer("cases", 10000, "Cases in all, split over the models.")
flags.DEFINE_float("deadline", 60., "Seconds a case may take (the first "
                   "decode of each image size traces the model).")
flags.DEFINE_integer("seed", 0, "Seed of the changes.")
flags.DEFINE_string("out", "experiments/reliability/results",
                    "Output folder (relative paths from the repo root).")
flags.DEFINE_string("worker", None, "Internal: run cases of this model.")
flags.DEFINE_integer("first", 0, "Internal: first case of the worker.")
flags.DEFINE_integer("count", 0, "Internal: cases of the worker.")

MSRB = "asymmetric_msrb (untrained, N=16)"
CROP = (slice(200, 248), slice(300, 364))
SIZES = [(48, 64), (72, 129), (1, 1), (17, 300), (65535, 65535)]
KINDS = ["random", "flip", "cut", "field", "payload", "size", "layers"]
OUTCOMES = ["refused", "decoded", "wrong", "hung", "crashed"]


def load(name):
  """(codec, file) of a zoo model or of the MSRB family."""
  from tfvrc import cli, coding, io, models, zoo  # pylint: disable=import-outside-toplevel
  if name == MSRB:
    tf.keras.utils.set_random_seed(7)
    model = models.create("asymmetric_msrb", num_filters=16)
    model.build_coders()
    codec = coding.Codec.of(model, "fuzz-msrb")
  else:
    codec = zoo.load(name)
  return codec, coding.encode(codec, io.read_image(cli.SAMPLE_IMAGE)[CROP])


def changed_bytes(data, rng):
  """`data` with 1-4 bit flips, cuts or overwritten bytes."""
  data = bytearray(data)
  for _ in range(rng.integers(1, 5)):
    if not data:
      break
    kind, position = rng.integers(0, 3), rng.integers(0, len(data))
    if kind == 0:
      data[position] ^= 1 << rng.integers(0, 8)
    elif kind == 1:
      del data[position:]
    else:
      data[position] = rng.integers(0, 256)
  return bytes(data)


def case(file, kind, rng):
  """The bytes of one case of `kind`."""
  from tfvrc import bitstream  # pylint: disable=import-outside-toplevel
  header, layers = bitstream.unpack(file)
  if kind == "random":
    return rng.bytes(int(rng.integers(0, 2 * len(file))))
  if kind == "flip":
    return changed_bytes(file, rng)
  if kind == "cut":
    return file[:rng.integers(0, len(file))]
  if kind == "field":
    position = rng.integers(0, len(file))
    return file[:position] + b"\xff" * 4 + file[position + 4:]
  if kind == "payload":
    layers = [list(layer) for layer in layers]
    layer = layers[rng.integers(0, len(layers))]
    which = rng.integers(0, len(layer))
    layer[which] = changed_bytes(layer[which], rng)
    return bitstream.pack(header, layers)
  if kind == "size":
    height, width = SIZES[rng.integers(0, len(SIZES))]
    return bitstream.pack(
        dataclasses.replace(header, height=height, width=width), layers)
  layers = (layers[:rng.integers(1, len(layers))]
            if len(layers) > 1 and rng.integers(0, 2)
            else layers + layers[-1:])
  return bitstream.pack(dataclasses.replace(header, num_layers=len(layers)),
                        layers)


def outcome(codec, data):
  """(outcome, detail) of decoding `data`."""
  from tfvrc import bitstream, coding  # pylint: disable=import-outside-toplevel
  try:
    image = coding.decode(codec, data)
  except bitstream.BitstreamError as e:
    return "refused", str(e)[:200]
  except Exception as e:  # pylint: disable=broad-except
    return "wrong", f"{type(e).__name__}: {e}"[:300]
  shape = coding.read_header(data)
  shape = (shape.height, shape.width, 3)
  return (("decoded", "") if image.shape == shape else
          ("wrong", f"decoded {image.shape}, header says {shape}"))


def worker(name):
  """Runs cases FLAGS.first.. of `name`, a line each; exits 3 on a hang."""
  codec, file = load(name)
  current = {"start": None}

  def watchdog():
    while True:
      time.sleep(0.5)
      start = current["start"]
      if start is not None and time.monotonic() - start > FLAGS.deadline:
        os._exit(3)  # pylint: disable=protected-access
  threading.Thread(target=watchdog, daemon=True).start()
  for index in range(FLAGS.first, FLAGS.first + FLAGS.count):
    rng = np.random.default_rng([FLAGS.seed, zlib.crc32(name.encode()), index])
    kind = KINDS[index % len(KINDS)]
    data = case(file, kind, rng)
    current["start"] = time.monotonic()
    result, detail = outcome(codec, data)
    seconds = time.monotonic() - current["start"]
    current["start"] = None
    print(json.dumps(dict(case=index, kind=kind, outcome=result,
                          detail=detail, seconds=round(seconds, 3),
                          bytes=len(data))), flush=True)


def run_model(name, count):
  """Runs `count` cases of `name` in child processes; their records."""
  records, first = [], 0
  while first < count:
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), f"--worker={name}",
         f"--first={first}", f"--count={count - first}",
         f"--deadline={FLAGS.deadline}", f"--seed={FLAGS.seed}"],
        capture_output=True, text=True, check=False)
    done = [json.loads(line) for line in child.stdout.splitlines()
            if line.startswith("{")]
    records += done
    first += len(done)
    if child.returncode != 0 and first < count:  # the case in progress
      records.append(dict(case=first, kind=KINDS[first % len(KINDS)],
                          outcome="hung" if child.returncode == 3
                          else "crashed", seconds=None,
                          returncode=child.returncode,
                          stderr=child.stderr[-600:]))
      first += 1
  return records


def main(_):
  if FLAGS.worker:
    return worker(FLAGS.worker)
  from tfvrc import zoo  # pylint: disable=import-outside-toplevel
  names = zoo.names() + [MSRB]
  per_model = -(-FLAGS.cases // len(names))
  rows, records = [], {}
  print(f"{'model':38s} {'cases':>6s} " + " ".join(f"{o:>8s}" for o in
                                                   OUTCOMES) + "  max s")
  for name in names:
    start = time.monotonic()
    records[name] = run_model(name, per_model)
    counts = collections.Counter(r["outcome"] for r in records[name])
    slowest = max((r["seconds"] for r in records[name]
                   if r["seconds"] is not None), default=0.)
    by_kind = collections.Counter(f"{r['kind']} {r['outcome']}"
                                  for r in records[name])
    rows.append(dict(model=name, cases=len(records[name]),
                     **{o: counts[o] for o in OUTCOMES},
                     by_kind=dict(sorted(by_kind.items())),
                     max_seconds=slowest,
                     wall_seconds=round(time.monotonic() - start)))
    print(f"{name:38s} {len(records[name]):6d} " + " ".join(
        f"{counts[o]:8d}" for o in OUTCOMES) + f"  {slowest:5.1f}",
          flush=True)
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(out, exist_ok=True)
  bad = [dict(model=name, **r) for name, rs in records.items() for r in rs
         if r["outcome"] in ("wrong", "hung", "crashed")]
  with open(os.path.join(out, "fuzz.json"), "w") as f:
    json.dump(dict(cases=FLAGS.cases, seed=FLAGS.seed,
                   deadline=FLAGS.deadline, kinds=KINDS, rows=rows,
                   failures=bad), f, indent=2)
  print(f"\nresults in {out}/fuzz.json")


if __name__ == "__main__":
  app.run(main)
