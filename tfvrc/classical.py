"""Classical codecs on the evaluation loop: `tfvrc bench`.

Each codec codes the uint8 RGB image at every setting of a quality sweep
chosen to cover about 0.05-2 bpp on Kodak (JPEG, WebP and JPEG XL cannot go
that low: their lowest settings give about 0.1-0.2 bpp), and the results are the
CompressAI-schema JSON of `tfvrc eval` with "quality" as the setting. bpp
comes from the whole file the tool writes (container and headers included).
External tools run single-threaded in a temporary folder; their times are
wall times of the whole command (process start included), as CompressAI
measures its BPG anchor.

  jpeg     Pillow (libjpeg), quality 5-90, 4:2:0 subsampling (CompressAI's
           default), baseline with standard Huffman tables, in-process.
  webp     cwebp / dwebp (Debian webp), -q 0-95, lossy (always 4:2:0), -m 4.
  hevc444  BPG's recipe with ffmpeg + libx265 (Debian ffmpeg): RGB to YCbCr
           BT.601 full range 4:4:4, 8 bit, one intra frame, preset veryslow,
           -tune ssim (x265's psycho-visual tuning off, see
           experiments/baselines/README.md), crf sweep, raw HEVC stream without x265's info
           SEI; decoded back to RGB PNG with ffmpeg.
  avif     avifenc / avifdec (Debian libavif-bin, libaom), 4:4:4 8 bit full
           range, constant quantizer (--min = --max), speed 6.
  jxl      cjxl / djxl (Debian libjxl-tools), distance 0.5-25 (25 is the
           largest), effort 7.
"""

import io
import os
import shutil
import subprocess
import tempfile

import numpy as np
import PIL
from PIL import features, Image

from tfvrc import evaluate
from tfvrc import io as image_io


class Codec:
  """A classical codec: its quality sweep, an encoder and a decoder.

  `prepare` makes the encoder's input once per image (not timed); `encode`
  and `decode` are what the timings cover and keep their files in `folder`.
  """

  name = None
  label = None
  qualities = ()
  package = None  # the Debian package of `tools`
  tools = ()

  def check(self):
    """Raises FileNotFoundError naming the package when a tool is missing."""
    for tool in self.tools:
      if shutil.which(tool) is None:
        raise FileNotFoundError(
            f"{tool} not found: the {self.name} benchmark needs the Debian "
            f"package {self.package} (apt-get install {self.package})")

  def description(self):
    return f"{self.label}, {self.version()}"

  def version(self):
    raise NotImplementedError

  def prepare(self, image, path):
    """The encoder's input for a uint8 image; `path` is free for a file."""
    raise NotImplementedError

  def encode(self, source, quality, folder):
    """The bytes of the compressed file."""
    raise NotImplementedError

  def decode(self, data, folder):
    """The decoded uint8 RGB image."""
    raise NotImplementedError


class Jpeg(Codec):
  """JPEG in-process with Pillow."""

  name, label = "jpeg", "JPEG (Pillow/libjpeg, 4:2:0)"
  qualities = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)

  def check(self):
    if not features.check("jpg"):
      raise FileNotFoundError("this Pillow was built without JPEG support")

  def version(self):
    return f"Pillow {PIL.__version__}, libjpeg {features.version('jpg')}"

  def prepare(self, image, path):
    return image

  def encode(self, source, quality, folder):
    buffer = io.BytesIO()
    Image.fromarray(source).save(buffer, "JPEG", quality=quality,
                                 subsampling="4:2:0")
    return buffer.getvalue()

  def decode(self, data, folder):
    with Image.open(io.BytesIO(data)) as im:
      return np.asarray(im.convert("RGB"))


class ToolCodec(Codec):
  """A codec run as command-line tools on PNG files."""

  suffix = None  # of the compressed file

  def version_command(self):
    raise NotImplementedError

  def encode_command(self, source, quality, output):
    raise NotImplementedError

  def decode_command(self, coded, output):
    raise NotImplementedError

  def version(self):
    """First line of the tool's version output."""
    line = run_tool(self.version_command()).strip().splitlines()[0]
    return line.split(" Copyright")[0]

  def prepare(self, image, path):
    """Writes the image as the PNG file `path`."""
    with open(path, "wb") as f:
      f.write(image_io.encode_image(image, path))
    return path

  def encode(self, source, quality, folder):
    coded = fresh(os.path.join(folder, "coded" + self.suffix))
    run_tool(self.encode_command(source, quality, coded))
    with open(coded, "rb") as f:
      return f.read()

  def decode(self, data, folder):
    coded = os.path.join(folder, "received" + self.suffix)
    decoded = fresh(os.path.join(folder, "decoded.png"))
    with open(coded, "wb") as f:
      f.write(data)
    run_tool(self.decode_command(coded, decoded))
    return image_io.read_image(decoded)


def fresh(path):
  """`path`, with any file left there by the previous run removed."""
  if os.path.exists(path):
    os.remove(path)
  return path


def run_tool(command):
  """Runs a command; its output, or OSError with the last line it printed."""
  try:
    done = subprocess.run(command, capture_output=True, text=True,
                          check=False)
  except FileNotFoundError:
    raise FileNotFoundError(f"{command[0]} not found") from None
  if done.returncode != 0:
    said = done.stderr.strip() or done.stdout.strip() or "no output"
    raise OSError(f"{' '.join(command[:2])} ... failed with exit status "
                  f"{done.returncode}: {said.splitlines()[-1]}")
  return done.stdout or done.stderr


class WebP(ToolCodec):
  name, label = "webp", "WebP (cwebp/dwebp, lossy 4:2:0, -m 4)"
  qualities = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
  package, tools, suffix = "webp", ("cwebp", "dwebp"), ".webp"

  def version_command(self):
    return ["cwebp", "-version"]

  def description(self):
    return f"{self.label}, libwebp {self.version()}"

  def encode_command(self, source, quality, output):
    return ["cwebp", "-quiet", "-m", "4", "-q", str(quality), source,
            "-o", output]

  def decode_command(self, coded, output):
    return ["dwebp", "-quiet", coded, "-o", output]


# ffmpeg's RGB <-> YCbCr conversion: BT.601 full range (as BPG), exact
# rounding, no chroma resampling.
_SWSCALE = "flags=accurate_rnd+full_chroma_int"


class Hevc444(ToolCodec):
  name = "hevc444"
  label = ("HEVC intra 4:4:4 (ffmpeg libx265, BPG recipe: BT.601 full-range "
           "YCbCr, preset veryslow, tune ssim, crf sweep)")
  qualities = (19, 22, 25, 28, 31, 34, 37, 40, 43, 46, 49)
  package, tools, suffix = "ffmpeg", ("ffmpeg",), ".hevc"

  def version_command(self):
    return ["ffmpeg", "-hide_banner", "-version"]

  def encode_command(self, source, quality, output):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-i", source, "-vf",
            f"scale=out_color_matrix=bt601:out_range=full:{_SWSCALE},"
            "format=yuv444p",
            "-color_range", "pc", "-colorspace", "bt470bg",
            "-c:v", "libx265", "-preset", "veryslow", "-tune", "ssim",
            "-crf", str(quality),
            "-x265-params",
            "log-level=error:info=0:keyint=1:pools=1:frame-threads=1",
            "-frames:v", "1", "-f", "hevc", output]

  def decode_command(self, coded, output):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-threads", "1", "-i", coded, "-vf",
            f"scale=in_color_matrix=bt601:in_range=full:{_SWSCALE},"
            "format=rgb24", "-frames:v", "1", output]


class Avif(ToolCodec):
  name, label = "avif", "AVIF 4:4:4 (avifenc/avifdec, libaom, speed 6)"
  qualities = (8, 14, 20, 26, 32, 38, 44, 50, 56, 62)
  package, tools, suffix = "libavif-bin", ("avifenc", "avifdec"), ".avif"

  def version_command(self):
    return ["avifenc", "--version"]

  def encode_command(self, source, quality, output):
    return ["avifenc", "-j", "1", "-s", "6", "-y", "444", "-d", "8",
            "-r", "full", "-c", "aom", "--min", str(quality),
            "--max", str(quality), source, output]

  def decode_command(self, coded, output):
    return ["avifdec", "-j", "1", coded, output]


class JpegXl(ToolCodec):
  name, label = "jxl", "JPEG XL (cjxl/djxl, effort 7, distance sweep)"
  qualities = (0.5, 0.75, 1., 1.5, 2., 3., 4., 6., 8., 11., 15., 20., 25.)
  package, tools, suffix = "libjxl-tools", ("cjxl", "djxl"), ".jxl"

  def version_command(self):
    return ["cjxl", "--version"]

  def encode_command(self, source, quality, output):
    return ["cjxl", source, output, "--quiet", "-e", "7",
            "-d", str(quality), "--num_threads=0"]

  def decode_command(self, coded, output):
    return ["djxl", coded, output, "--num_threads=1"]


CODECS = {c.name: c for c in (Jpeg(), WebP(), Hevc444(), Avif(), JpegXl())}


def get(names):
  """The codecs of a comma-separated list (or a list), tools checked."""
  if isinstance(names, str):
    names = [n.strip() for n in names.split(",") if n.strip()]
  unknown = [n for n in names if n not in CODECS]
  if unknown or not names:
    raise ValueError(f"unknown codec {', '.join(unknown) or '(none given)'}: "
                     f"choose from {', '.join(CODECS)}")
  codecs = [CODECS[n] for n in names]
  for codec in codecs:
    codec.check()
  return codecs


def bench(codec, images, qualities=None, progress=True):
  """Codes `images` ((name, array) pairs) over the codec's quality sweep.

  Returns (results, rows) as `evaluate.evaluate_model` does.
  """
  qualities = list(qualities or codec.qualities)
  with tempfile.TemporaryDirectory(prefix=f"tfvrc-bench-{codec.name}-") as tmp:
    sources = {id(image): codec.prepare(image, os.path.join(tmp, f"in{i}.png"))
               for i, (_, image) in enumerate(images)}

    def code(image, quality):
      data, encoding_time = evaluate.timed(codec.encode, sources[id(image)],
                                           quality, tmp)
      decoded, decoding_time = evaluate.timed(codec.decode, data, tmp)
      return data, decoded, encoding_time, decoding_time, None

    rows = evaluate.run_points(images, qualities, code, "quality", progress,
                               codec.name)
  description = (f"{codec.description()}; bpp from the file size; PSNR and "
                 f"MS-SSIM on the decoded 8-bit RGB image; {len(images)} "
                 "images")
  return evaluate.summarize(rows, "quality", codec.name, description), rows


def output_paths(folder, codec):
  stem = os.path.join(folder, codec.name)
  return stem + ".json", stem + ".csv"


def cmd_bench(args):
  codecs = get(args.codec)
  if args.output:
    evaluate.check_outputs(
        [p for c in codecs for p in output_paths(args.output, c)], args.force)
  images = evaluate.load_images(evaluate.list_images(args.data, args.images))
  for codec in codecs:
    results, rows = bench(codec, images, progress=not args.quiet)
    if args.output:
      os.makedirs(args.output, exist_ok=True)
      json_path, csv_path = output_paths(args.output, codec)
      evaluate.write_outputs({json_path: evaluate.results_bytes(results),
                              csv_path: evaluate.rows_bytes(rows)},
                             args.force)
    print(evaluate.format_table(results))


def add_parsers(sub):
  """Registers `bench` on the CLI's subparsers."""
  b = sub.add_parser("bench", help="rate-distortion of classical codecs on a "
                     "folder of images")
  b.add_argument("--codec", default=",".join(CODECS),
                 help=f"comma-separated, from {','.join(CODECS)} (default: "
                 "all)")
  b.add_argument("--data", required=True, help="folder of images")
  b.add_argument("--images", type=int, help="use the first N images")
  b.add_argument("-o", "--output", help="folder for CODEC.json (CompressAI "
                 "schema) and CODEC.csv (per image)")
  b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
  b.add_argument("--force", action="store_true", help="overwrite outputs")
  b.set_defaults(run=cmd_bench)
