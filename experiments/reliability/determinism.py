"""Do files decode the same under other settings of the same machine?

Settings: TensorFlow's intra-op threads (1, 2, 8) times oneDNN on or off
(TF_ENABLE_ONEDNN_OPTS). Under each, a child process encodes a crop of every
shipped model's sample at its lowest, middle and highest rate; under each,
another decodes every file. A decode fails when it is refused (the
bitstream error: the tables it built differ from the encoder's) and differs
when its pixels are not those of the decode under the encoding setting.
Prints the counts per pair of settings and writes JSON. The CPU kind cannot
vary on one machine: pinned bitstreams (tests/test_pinned.py) cover AVX2
against AVX-512.

  python experiments/reliability/determinism.py
"""

import hashlib
import itertools
import json
import os
import subprocess
import sys
import tempfile

from absl import app
from absl import flags
# Before app.run: imported inside its main, TensorFlow 2.14 breaks tensor
# comparisons in tf.functions (tfvrc.models.base.check_graph_equality).
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FLAGS = flags.FLAGS
flags.DEFINE_string("out", "experiments/reliability/results",
                    "Output folder (relative paths from the repo root).")
flags.DEFINE_string("role", None, "Internal: encode or decode.")
flags.DEFINE_string("folder", None, "Internal: the files' folder.")
flags.DEFINE_integer("threads", 0, "Internal: intra-op threads.")

SETTINGS = [dict(threads=t, onednn=o) for t, o in
            itertools.product((1, 2, 8), ("1", "0"))]
CROP = (slice(100, 356), slice(200, 456))


def label(setting):
  return f"{setting['threads']}t-onednn{'on' if setting['onednn'] == '1' else 'off'}"


def rates(codec):
  if codec.rate_points is not None:
    points = list(codec.rate_points)
    return sorted({points[0], points[len(points) // 2], points[-1]})
  lo, hi = codec.rate_range
  middle = (lo + hi) / 2
  if codec.max_layers > 1:  # the rate is a layer count
    middle = round(middle)
  return sorted({lo, middle, hi})


def child():
  """Encodes (role encode) or decodes (role decode) in this setting; prints
  a JSON line {file: pixel sha256 or "refused: ..."} for decodes."""
  tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
  from tfvrc import bitstream, cli, coding, io, zoo  # pylint: disable=import-outside-toplevel
  results = {}
  if FLAGS.role == "encode":
    image = io.read_image(cli.SAMPLE_IMAGE)[CROP]
    tag = os.environ["DETERMINISM_TAG"]
    for name in zoo.names():
      codec = zoo.load(name)
      for rate in rates(codec):
        with open(os.path.join(FLAGS.folder, f"{tag}__{name}__{rate:g}"),
                  "wb") as f:
          f.write(coding.encode(codec, image, rate))
    return
  codecs = {}
  for file in sorted(os.listdir(FLAGS.folder)):
    with open(os.path.join(FLAGS.folder, file), "rb") as f:
      data = f.read()
    header = coding.read_header(data)
    key = (header.model_name, header.weights_digest, header.format_version)
    if key not in codecs:
      codecs[key] = zoo.for_file(header)
    try:
      pixels = coding.decode(codecs[key], data)
      results[file] = hashlib.sha256(pixels.tobytes()).hexdigest()
    except bitstream.BitstreamError as e:
      results[file] = f"refused: {e}"
  print(json.dumps(results))


def run(role, setting, folder):
  env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting["onednn"],
             DETERMINISM_TAG=label(setting), TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run(
      [sys.executable, os.path.abspath(__file__), f"--role={role}",
       f"--folder={folder}", f"--threads={setting['threads']}"],
      env=env, capture_output=True, text=True, check=True).stdout


def by_model(decoded):
  """Per model, its decodes under another setting than the encoder's:
  how many, refused, with other pixels."""
  models = {}
  for decoder, results in decoded.items():
    for file, result in results.items():
      encoder, name, _ = file.split("__")
      if encoder == decoder:
        continue
      counts = models.setdefault(name, dict(files=0, refused=0, differ=0))
      counts["files"] += 1
      if result.startswith("refused"):
        counts["refused"] += 1
      elif result != decoded[encoder][file]:
        counts["differ"] += 1
  return dict(sorted(models.items()))


def main(_):
  if FLAGS.role:
    return child()
  with tempfile.TemporaryDirectory() as folder:
    for setting in SETTINGS:
      print(f"encoding under {label(setting)}", flush=True)
      run("encode", setting, folder)
    decoded = {}
    for setting in SETTINGS:
      print(f"decoding under {label(setting)}", flush=True)
      decoded[label(setting)] = json.loads(
          run("decode", setting, folder).strip().splitlines()[-1])
  rows = []
  for encoder, decoder in itertools.product(map(label, SETTINGS), repeat=2):
    files = [f for f in decoded[decoder] if f.startswith(encoder + "__")]
    refused = [f for f in files if decoded[decoder][f].startswith("refused")]
    differ = [f for f in files if f not in refused
              and decoded[decoder][f] != decoded[encoder][f]]
    rows.append(dict(encoder=encoder, decoder=decoder, files=len(files),
                     refused=len(refused), differ=len(differ),
                     examples=(refused + differ)[:3]))
  print(f"\n{'encoded under':>18} {'decoded under':>18} {'files':>6} "
        f"{'refused':>8} {'pixels differ':>14}")
  for row in rows:
    print(f"{row['encoder']:>18} {row['decoder']:>18} {row['files']:6d} "
          f"{row['refused']:8d} {row['differ']:14d}")
  total = {k: sum(r[k] for r in rows) for k in ("files", "refused", "differ")}
  print(f"\nin all: {total['files']} decodes, {total['refused']} refused, "
        f"{total['differ']} with other pixels")
  models = by_model(decoded)
  print(f"\n{'model':>28} {'cross decodes':>14} {'refused':>8} "
        f"{'pixels differ':>14}")
  for name, counts in models.items():
    print(f"{name:>28} {counts['files']:14d} {counts['refused']:8d} "
          f"{counts['differ']:14d}")
  out = os.path.join(REPO, FLAGS.out)
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "determinism.json"), "w") as f:
    json.dump(dict(settings=[label(s) for s in SETTINGS], rows=rows,
                   total=total, models=models), f, indent=2)
  print(f"results in {out}/determinism.json")


if __name__ == "__main__":
  app.run(main)
