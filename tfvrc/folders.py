"""Whole folders through one loaded codec: `tfvrc compress-dir` /
`tfvrc decompress-dir`.

Inputs are read by a tf.data pipeline (in parallel with the coding), outputs
keep the input tree under the output folder and are written atomically. A
file that fails is reported and skipped, and the batch goes on; an output
that already exists and parses is skipped, so an interrupted run resumes.
"""

import dataclasses
import os
import time

import tensorflow as tf

from tfvrc import bitstream
from tfvrc import coding
from tfvrc import io

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SUFFIX = ".tfvrc"


@dataclasses.dataclass
class Summary:
  """What a folder run did."""
  done: int = 0
  skipped: int = 0
  failed: list = dataclasses.field(default_factory=list)  # (path, error)
  seconds: float = 0.

  def line(self, verb):
    rate = self.done / self.seconds if self.seconds else 0.
    return (f"{self.done} {verb}, {self.skipped} skipped (done before), "
            f"{len(self.failed)} failed; {rate:.2f} images/s")


def files_under(folder, extensions):
  """Relative paths of the files under `folder` with these extensions."""
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"no such folder: {folder}")
  return sorted(
      os.path.relpath(os.path.join(root, name), folder)
      for root, _, names in os.walk(folder) for name in names
      if name.lower().endswith(extensions))


def _read_all(paths, read, dtype):
  """(path, content or None, error or None) for each path: `read(path)`, a
  `dtype` array (a uint8 image, or tf.string bytes), run ahead by tf.data
  while the caller codes."""
  if not paths:
    return

  def load(path):
    try:
      return read(path.numpy().decode()), ""
    except (OSError, ValueError, io.ImageError) as e:
      return tf.zeros([0] * (dtype == tf.uint8) * 3, dtype), (
          str(e) or type(e).__name__)

  dataset = tf.data.Dataset.from_tensor_slices(paths).map(
      lambda p: tf.py_function(load, [p], (dtype, tf.string)),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  for path, (content, error) in zip(paths, dataset.prefetch(2)):
    error = error.numpy().decode()
    yield path, (None if error else content.numpy()), error or None


def _run(jobs, read, code, progress, verb):
  """Runs `code(content, output)` for each job not done yet, the content
  `read` gives; `jobs` maps output paths to (input path, whether an output
  is done). `read` is (function of a path, its tf dtype)."""
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  summary = Summary()
  todo = {}
  for output, (path, done) in jobs.items():
    if done(output):
      summary.skipped += 1
    else:
      todo[path] = output
  start = time.perf_counter()
  with tqdm(total=len(todo), unit="image", desc=verb,
            disable=not progress) as bar:
    for path, content, error in _read_all(list(todo), *read):
      try:
        if error:
          raise ValueError(error)
        os.makedirs(os.path.dirname(todo[path]) or ".", exist_ok=True)
        code(content, todo[path])
        summary.done += 1
      except (OSError, ValueError, bitstream.BitstreamError,
              io.ImageError) as e:
        summary.failed.append((path, str(e)))
        bar.write(f"{path}: {e}")
      bar.update()
  summary.seconds = time.perf_counter() - start
  return summary


def _parses(path):
  try:
    with open(path, "rb") as f:
      bitstream.unpack(f.read())
    return True
  except (OSError, bitstream.BitstreamError):
    return False


def _readable_image(path):
  try:
    io.read_image(path)
    return True
  except (OSError, io.ImageError):
    return False


def _read_bytes(path):
  with open(path, "rb") as f:
    return f.read()



def compress_dir(codec, source, target, rate=None, progress=True):
  """Compresses every image under `source` into `target` (same tree, each
  name + ".tfvrc") at `rate`; returns a Summary."""
  rate = coding.check_rate(codec, rate)
  jobs = {os.path.join(target, rel + SUFFIX): (os.path.join(source, rel),
                                               _parses)
          for rel in files_under(source, IMAGE_EXTENSIONS)}
  return _run(jobs, (io.read_image, tf.uint8), lambda image, out: io.atomic_write(
      out, coding.encode(codec, image, rate)), progress, "compressed")


def png_name(name):
  """"a.png.tfvrc" -> "a.png"; "a.jpg.tfvrc" -> "a.jpg.png" (lossless)."""
  name = name[:-len(SUFFIX)]
  return name if name.lower().endswith(".png") else name + ".png"


def decompress_dir(codec_for, source, target, progress=True):
  """Decompresses every .tfvrc file under `source` into PNGs under `target`
  (same tree, `png_name`); `codec_for(data)` gives the codec of a file.
  Returns a Summary."""
  jobs = {os.path.join(target, png_name(rel)):
          (os.path.join(source, rel), _readable_image)
          for rel in files_under(source, (SUFFIX,))}
  return _run(jobs, (_read_bytes, tf.string), lambda data, out: io.write_image(
      out, coding.decode(codec_for(data), data)), progress, "decompressed")
