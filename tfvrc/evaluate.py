"""RD evaluation and results files: `tfvrc eval` and `tfvrc bdrate`.

`evaluate_model` codes a set of images with a tfvrc codec at several rates
through real files (`coding.encode` / `coding.decode`); `classical.bench` runs the
classical codecs through the same loop (`run_points`). Both give results in
CompressAI's JSON schema, lists indexed by rate point:
{"name", "description", "results": {"bpp", "psnr-rgb", "ms-ssim-rgb",
"encoding_time", "decoding_time", ...}}, plus one row per image and point for
a CSV. `read_results` reads those files and the published curves of
../shared/data/rd_reference.

This module imports no TensorFlow at load time: the CLI builds its parser
from it.
"""

import csv
import io
import json
import math
import os
import re
import time

import numpy as np

from tfvrc import io as image_io

AVERAGED_KEYS = ("bpp", "estimated_bpp", "psnr-rgb", "ms-ssim-rgb",
                 "encoding_time", "decoding_time")


# --- Images ------------------------------------------------------------------


def list_images(folder, limit=None):
  """Sorted paths of the images in `folder` (formats tfvrc reads), the first
  `limit` of them."""
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"no such folder: {folder}")
  if limit is not None and limit < 1:
    raise ValueError(f"--images must be at least 1, got {limit}")
  files = sorted(f for f in os.listdir(folder)
                 if os.path.splitext(f)[1].lower() in image_io.IMAGE_FORMATS)
  if not files:
    raise ValueError(f"{folder} has no images "
                     f"({', '.join(sorted(image_io.IMAGE_FORMATS))})")
  return [os.path.join(folder, f) for f in files[:limit]]


def load_images(paths):
  """(name, uint8 image) pairs, the input of `run_points`."""
  return [(os.path.basename(p), image_io.read_image(p)) for p in paths]


# --- The evaluation loop -----------------------------------------------------


def timed(function, *args):
  """(function(*args), wall seconds)."""
  start = time.perf_counter()
  result = function(*args)
  return result, time.perf_counter() - start


def run_points(images, settings, code, setting_key, progress=True, label=None):
  """Codes every image at every setting; returns one row (dict) per pair.

  `code(image, setting)` returns (file bytes, decoded uint8 image, encoding
  seconds, decoding seconds, estimated bits or None). bpp comes from the
  file's length; PSNR and MS-SSIM are over RGB of the 8-bit decoded image.
  """
  # pylint: disable=import-outside-toplevel
  from tqdm import tqdm
  from tfvrc import metrics
  rows = []
  with tqdm(total=len(settings) * len(images), desc=label, unit="image",
            disable=not progress, leave=False) as bar:
    for setting in settings:
      for name, image in images:
        data, decoded, encoding_time, decoding_time, bits = code(
            image, setting)
        if decoded.shape != image.shape:
          raise ValueError(f"{label}: {name} decoded to shape "
                           f"{decoded.shape}, not {image.shape}")
        row = {"image": name, setting_key: setting, "bytes": len(data),
               "bpp": metrics.bpp(len(data), image.shape)}
        if bits is not None:
          row["estimated_bpp"] = bits / (image.shape[0] * image.shape[1])
        row.update({"psnr-rgb": metrics.psnr(image, decoded),
                    "ms-ssim-rgb": metrics.ms_ssim(image, decoded),
                    "encoding_time": encoding_time,
                    "decoding_time": decoding_time})
        rows.append(row)
        bar.update()
  return rows


def summarize(rows, setting_key, name, description):
  """CompressAI-schema results: per setting, the means over the images."""
  settings = list(dict.fromkeys(row[setting_key] for row in rows))
  results = {setting_key: settings}
  for key in AVERAGED_KEYS:
    if key in rows[0]:
      results[key] = [
          float(np.mean([r[key] for r in rows if r[setting_key] == s]))
          for s in settings]
  return {"name": name, "description": description, "results": results}


# --- tfvrc models ------------------------------------------------------------


def model_rates(codec, rates=None, steps=6):
  """Sorted distinct rates: `rates` (checked against the model's range), or
  `steps` evenly spaced over the range (one point for a fixed-rate model)."""
  from tfvrc import coding  # pylint: disable=import-outside-toplevel
  if rates is None:
    if steps < 1:
      raise ValueError(f"--rate-steps must be at least 1, got {steps}")
    lo, hi = codec.rate_range
    rates = np.linspace(lo, hi, steps)
  # The shortest decimal of each float32 rate (0.0067, not 0.00669999979).
  return sorted({float(str(np.float32(coding.check_rate(codec, r))))
                 for r in rates})


def describe_model(codec, num_images):
  meta = codec.meta
  trained = (f"{meta['family']}, {meta['steps']} training steps"
             if meta else "SavedModel")
  return (f"tfvrc {codec.codec_name} ({trained}, weights "
          f"{bytes(codec.digest).hex()}): real .tfvrc files (header "
          "included), PSNR and MS-SSIM on the 8-bit decoded RGB image, "
          f"estimated_bpp from the entropy model; {num_images} images")


def evaluate_model(codec, images, rates, progress=True):
  """Codes `images` ((name, array) pairs) at each rate through real files.

  Returns (results, rows). The estimated bpp is the model's own
  (`reconstruct`), NaN for SavedModel codecs, which do not offer it.
  """
  from tfvrc import coding  # pylint: disable=import-outside-toplevel
  reconstruct = getattr(codec, "reconstruct", None)

  def code(image, rate):
    data, encoding_time = timed(coding.encode, codec, image, rate)
    decoded, decoding_time = timed(coding.decode, codec, data)
    bits = (float(reconstruct(image, rate)[1]) if reconstruct is not None
            else math.nan)
    return data, decoded, encoding_time, decoding_time, bits

  # The first calls trace the tf.functions; keep that out of the timings.
  code(images[0][1][:64, :64], rates[0])
  rows = run_points(images, rates, code, "rate", progress, codec.codec_name)
  return summarize(rows, "rate", codec.codec_name,
                   describe_model(codec, len(images))), rows


# --- Results files -----------------------------------------------------------


def results_bytes(results):
  return (json.dumps(results, indent=2) + "\n").encode()


def rows_bytes(rows):
  """Per-image rows as CSV (columns of the first row)."""
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  return text.getvalue().encode()


def write_outputs(outputs, force=False):
  """Writes {path: bytes} atomically, after checking none exists unforced."""
  check_outputs(outputs, force)
  for path, data in outputs.items():
    image_io.atomic_write(path, data, force=force)


def check_outputs(paths, force):
  """Fails before any work when an output exists and `force` is not set."""
  for path in paths:
    if path and os.path.exists(path) and not force:
      raise FileExistsError(f"{path} exists (use --force to overwrite)")


_TFC_FOLDER = re.compile(r"^(PSNR|MS-SSIM)_sRGB_(RGB|Y)$")
_STEM_METRIC = re.compile(r"_(PSNR|MSSSIM|MS-SSIM)$", re.IGNORECASE)


def _text_metric(path):
  """The metric a two-column file holds, from its folder or file name."""
  folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
  stem = os.path.splitext(os.path.basename(path))[0]
  match = _TFC_FOLDER.match(folder)
  if match:
    kind, channels = match.groups()
    return f"{kind.lower()}-{channels.lower()}"
  match = _STEM_METRIC.search(stem)
  if match:
    return ("psnr-rgb" if match.group(1).upper() == "PSNR"
            else "ms-ssim-rgb")
  raise ValueError(f"cannot tell the metric of {path}: put it in a folder "
                   "named like PSNR_sRGB_RGB or MS-SSIM_sRGB_RGB, or end its "
                   "name with _PSNR or _MSSSIM")


def _read_text(path, text):
  """A two-column text file ('bpp, value' or 'bpp value' lines)."""
  metric = _text_metric(path)
  name = os.path.splitext(os.path.basename(path))[0]
  bpp, values = [], []
  for number, line in enumerate(text.splitlines(), 1):
    line = line.strip()
    if line.startswith("#"):
      found = re.search(r'for "(.+?)"', line)
      if found and not bpp:
        name = found.group(1)
      continue
    if not line:
      continue
    fields = line.replace(",", " ").split()
    try:
      pair = [float(f) for f in fields]
    except ValueError:
      pair = []
    if len(pair) != 2:
      raise ValueError(f"{path}:{number}: expected 'bpp value', got "
                       f"{line[:60]!r}")
    bpp.append(pair[0])
    values.append(pair[1])
  if not bpp:
    raise ValueError(f"{path} has no 'bpp value' lines")
  if metric.startswith("ms-ssim") and max(values) > 1:  # given in dB
    values = _msssim_from_db(values)
  return {"name": name, "description": f"read from {path}",
          "results": {"bpp": bpp, metric: values}}


def read_results(path):
  """One RD curve file as a CompressAI-schema dict.

  JSON: ours or CompressAI's (its "ms-ssim-db-*" lists also become linear
  "ms-ssim-*" ones). Any other file: two columns, bpp then the metric, '#'
  comments (tensorflow-compression's results, Cheng 2020's .dat); the metric
  comes from the folder (PSNR_sRGB_RGB, MS-SSIM_sRGB_Y, ...) or a _PSNR /
  _MSSSIM name ending, and MS-SSIM above 1 is read as dB.
  """
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except FileNotFoundError:
    raise FileNotFoundError(f"no such file: {path}") from None
  except UnicodeDecodeError:
    raise ValueError(f"{path} is not a text file") from None
  if not path.lower().endswith(".json"):
    return _read_text(path, text)
  try:
    curve = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"{path} is not valid JSON ({e})") from None
  if not (isinstance(curve, dict) and isinstance(curve.get("results"), dict)
          and "bpp" in curve["results"]):
    raise ValueError(f"{path} is not an RD results file (no results.bpp)")
  curve.setdefault("name", os.path.splitext(os.path.basename(path))[0])
  curve.setdefault("description", "")
  results = curve["results"]
  for key in list(results):
    if key.startswith("ms-ssim-db-"):
      results.setdefault(key.replace("-db-", "-"),
                         _msssim_from_db(results[key]))
  return curve


def _msssim_from_db(values):
  """The inverse of `metrics.msssim_db`, as a list."""
  return [1. - 10. ** (-v / 10.) for v in values]


def curve_points(curve, metric="psnr-rgb", db=False):
  """(bpp, quality) array of a results dict; MS-SSIM in dB with `db`."""
  from tfvrc import metrics  # pylint: disable=import-outside-toplevel
  points = metrics.rd_points(curve, metric)
  if db and metric.startswith("ms-ssim"):
    points[:, 1] = metrics.msssim_db(points[:, 1])
  return points


def quality_label(metric, db=False):
  """'PSNR RGB (dB)', 'MS-SSIM RGB', 'MS-SSIM RGB (dB)', ... for `metric`."""
  kind, channels = metric.rsplit("-", 1)
  unit = " (dB)" if kind == "psnr" or db else ""
  return f"{kind.upper()} {channels.upper()}{unit}"


def compare(anchor, test, metric="psnr-rgb"):
  """Test against anchor: {"method", "bd_rate" (%), "bd_quality", "errors"}.

  Bjøntegaard (PCHIP) when the test curve has 2 points or more; a single
  point (a fixed-rate model) gets the one-point form: its rate change at the
  anchor's quality, its quality change at the anchor's rate. MS-SSIM is
  compared in dB. A delta that cannot be had (no overlap) is None with the
  reason in "errors"; ValueError when neither can.
  """
  from tfvrc import metrics  # pylint: disable=import-outside-toplevel
  a = curve_points(anchor, metric, db=True)
  t = curve_points(test, metric, db=True)
  if len(t) == 1:
    (bpp, quality), = t
    method, deltas = "one point", (
        ("bd_rate", lambda: metrics.rate_change_at(a, bpp, quality)),
        ("bd_quality", lambda: metrics.quality_change_at(a, bpp, quality)))
  else:
    method, deltas = "bjontegaard-pchip", (
        ("bd_rate", lambda: metrics.bd_rate(a, t)),
        ("bd_quality", lambda: metrics.bd_psnr(a, t)))
  result = {"method": method, "errors": []}
  for key, delta in deltas:
    try:
      result[key] = delta()
    except ValueError as e:
      result[key] = None
      result["errors"].append(f"{test['name']} against {anchor['name']}, "
                              f"{metric}: {e}")
  if len(result["errors"]) == len(deltas):
    raise ValueError(result["errors"][0])
  return result


def compare_metrics(anchor, test, metrics):
  """{metric: `compare(anchor, test, metric)`} for each metric; where
  neither delta can be had, Nones with the reason in "errors"."""
  deltas = {}
  for metric in metrics:
    try:
      deltas[metric] = compare(anchor, test, metric)
    except ValueError as e:
      deltas[metric] = {"bd_rate": None, "bd_quality": None,
                        "errors": [str(e)]}
  return deltas


# --- Tables and the CLI ------------------------------------------------------


def format_table(curve):
  """The averaged results as a text table, one line per point."""
  results = curve["results"]
  setting_key = next((k for k in ("rate", "quality") if k in results), None)
  columns = [(setting_key, "{:>10.4g}")] if setting_key else []
  columns += [("bpp", "{:>8.4f}"), ("estimated_bpp", "{:>8.4f}"),
              ("psnr-rgb", "{:>8.2f}"), ("ms-ssim-rgb", "{:>8.4f}"),
              ("encoding_time", "{:>8.3f}"), ("decoding_time", "{:>8.3f}")]
  columns = [(k, f) for k, f in columns if k in results]
  titles = {"estimated_bpp": "est.bpp", "psnr-rgb": "PSNR",
            "ms-ssim-rgb": "MS-SSIM", "encoding_time": "enc s",
            "decoding_time": "dec s"}
  lines = [curve["name"], " ".join(
      f"{titles.get(k, k):>{10 if k == setting_key else 8}}"
      for k, _ in columns)]
  for i in range(len(results["bpp"])):
    lines.append(" ".join(f.format(results[k][i]) for k, f in columns))
  return "\n".join(lines)


def parse_floats(text, option):
  """'1,2.5,3' -> [1.0, 2.5, 3.0]; ValueError naming `option`."""
  try:
    return [float(v) for v in text.split(",")]
  except ValueError:
    raise ValueError(f"{option} takes comma-separated numbers, got "
                     f"{text!r}") from None


def cmd_eval(args):
  check_outputs([args.output, args.csv], args.force)
  from tfvrc import zoo  # pylint: disable=import-outside-toplevel
  paths = list_images(args.data, args.images)
  codec = zoo.load(args.model)
  rates = model_rates(
      codec, parse_floats(args.rates, "--rates") if args.rates else None,
      args.rate_steps)
  results, rows = evaluate_model(codec, load_images(paths), rates,
                                 progress=not args.quiet)
  outputs = {}
  if args.output:
    outputs[args.output] = results_bytes(results)
  if args.csv:
    outputs[args.csv] = rows_bytes(rows)
  write_outputs(outputs, args.force)
  print(format_table(results))


def cmd_bdrate(args):
  anchor = read_results(args.anchor)
  tests = [read_results(path) for path in args.tests]
  quality = quality_label(args.metric, db=True)
  print(f"anchor: {anchor['name']}, quality: {quality}")
  print(f"{'test':<32} {'BD-rate %':>10} {'BD-' + quality.split()[0]:>14}  "
        "method")
  notes = []
  for test in tests:
    delta = compare(anchor, test, args.metric)
    notes += delta["errors"]
    print(f"{test['name'][:32]:<32} {format_delta(delta['bd_rate'], 10, 2)} "
          f"{format_delta(delta['bd_quality'], 11, 3)} dB  "
          f"{delta['method']}")
  for note in notes:
    print(f"n/a: {note}")


def format_delta(value, width, decimals):
  """A signed number, or n/a for None."""
  return f"{'n/a':>{width}}" if value is None else (
      f"{value:>+{width}.{decimals}f}")


def add_parsers(sub):
  """Registers `eval` and `bdrate` on the CLI's subparsers."""
  e = sub.add_parser("eval", help="rate-distortion of a model on a folder "
                     "of images (CompressAI JSON, per-image CSV)")
  e.add_argument("--model", help="zoo name, weights file or SavedModel "
                 "(default: the built-in default)")
  e.add_argument("--data", required=True, help="folder of images")
  rates = e.add_mutually_exclusive_group()
  rates.add_argument("--rates", help="comma-separated rates r1,r2,...")
  rates.add_argument("--rate-steps", type=int, default=6, help="rates evenly "
                     "spaced over the model's rate_range (default 6; "
                     "duplicates dropped)")
  e.add_argument("--images", type=int, help="use the first N images")
  e.add_argument("-o", "--output", help="results JSON (CompressAI schema)")
  e.add_argument("--csv", help="per-image CSV")
  e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
  e.add_argument("--force", action="store_true", help="overwrite outputs")
  e.set_defaults(run=cmd_eval)

  b = sub.add_parser("bdrate", help="Bjøntegaard deltas of RD curves "
                     "against an anchor")
  b.add_argument("anchor", help="results JSON or two-column text file")
  b.add_argument("tests", nargs="+", metavar="test")
  b.add_argument("--metric", default="psnr-rgb",
                 help="psnr-rgb (default) or ms-ssim-rgb (compared in dB)")
  b.set_defaults(run=cmd_bdrate)
