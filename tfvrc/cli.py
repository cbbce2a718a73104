"""The `tfvrc` command: compress, decompress, compress-dir, decompress-dir,
truncate, info, models, demo, export, train, eval, bench, plot and bdrate.

Every failure the user can cause (missing or unreadable input, a corrupt or
foreign bitstream, a rate out of range, an output that exists) ends with one
line on stderr and exit status 1; outputs are written atomically.
"""

import argparse
import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing) is not for CLI users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# pylint: disable=import-outside-toplevel  (TensorFlow loads only when needed)

SAMPLE_IMAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "samples", "kodim23.png")


def _read(path):
  try:
    with open(path, "rb") as f:
      return f.read()
  except FileNotFoundError:
    raise FileNotFoundError(f"no such file: {path}") from None


def _served(server, model, data=None):
  """The codec of a serving model (--server): its name is --model or, when
  decoding, the file's, or the built-in default's."""
  from tfvrc import coding, zoo
  from tfvrc.serving import backends, client
  if model is None and data is not None:
    model = coding.read_header(data).model_name
  return client.Client(backends.connect(server, model or zoo.DEFAULT_MODEL))


def _codec_for(data, model, precision, server=None):
  """The codec named by --model, or else by the file's header, with the
  table path the file's format version needs."""
  from tfvrc import bitstream, coding, zoo
  if server:
    return _served(server, model, data)
  header = coding.read_header(data)
  if model is None:
    return zoo.for_file(header, precision, cached=True)
  return zoo.load(model, precision, cached=True,
                  fixed_point=bitstream.fixed_point_tables(header))


def _check_output(path, force):
  """Fails before any work when the output exists or its folder does not
  (io re-checks at write)."""
  if os.path.exists(path) and not force:
    raise FileExistsError(f"{path} exists (use --force to overwrite)")
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"the output folder {folder} does not exist")


def cmd_compress(args):
  output = args.output or args.input + ".tfvrc"
  _check_output(output, args.force)
  from tfvrc import coding, io, metrics, zoo
  image = io.read_image(args.input)
  if args.server:
    codec = _served(args.server, args.model)
  else:
    codec = zoo.load(args.model, args.precision, cached=True)
  if args.target_bpp is None and args.target_psnr is None:
    data = coding.encode(codec, image, args.rate)
  else:
    data = coding.encode_to_target(codec, image, max_bpp=args.target_bpp,
                                   min_psnr=args.target_psnr)[0]
  io.atomic_write(output, data, force=args.force)
  header = coding.read_header(data)
  print(f"{output}: {len(data)} bytes, "
        f"{metrics.bpp(len(data), image.shape):.4f} bpp, "
        f"model {header.model_name}, rate {header.rate:g}")


def cmd_decompress(args):
  output = args.output or args.input + ".png"
  _check_output(output, args.force)
  from tfvrc import coding, io
  data = _read(args.input)
  image = coding.decode(
      _codec_for(data, args.model, args.precision, args.server), data,
      args.max_pixels, args.layers)
  io.write_image(output, image, force=args.force)
  print(f"{output}: {image.shape[1]}x{image.shape[0]}")


def cmd_compress_dir(args):
  from tfvrc import folders, zoo
  codec = zoo.load(args.model, args.precision)
  _report(folders.compress_dir(codec, args.input, args.output, args.rate,
                               progress=not args.quiet), "compressed")


def cmd_decompress_dir(args):
  from tfvrc import coding, folders, zoo

  if args.model:  # one codec for every file
    codec = zoo.load(args.model, args.precision)
    codec_for = lambda data: codec  # pylint: disable=unnecessary-lambda-assignment
  else:  # each file's own model, loaded once per (name, digest, version)
    codecs = {}

    def codec_for(data):
      header = coding.read_header(data)
      key = (header.model_name, header.weights_digest, header.format_version)
      if key not in codecs:
        codecs[key] = zoo.for_file(header, args.precision)
      return codecs[key]

  _report(folders.decompress_dir(codec_for, args.input, args.output,
                                 progress=not args.quiet), "decompressed")


def _report(summary, verb):
  """Prints the summary; an error (exit 1) if any file failed."""
  print(summary.line(verb))
  if summary.failed:
    raise ValueError(f"{len(summary.failed)} file(s) failed, first "
                     f"{summary.failed[0][0]}: {summary.failed[0][1]}")


def cmd_truncate(args):
  _check_output(args.output, args.force)
  from tfvrc import bitstream, io
  data = bitstream.truncate_layers(_read(args.input), args.layers)
  io.atomic_write(args.output, data, force=args.force)
  print(f"{args.output}: {len(data)} bytes, {args.layers} layer(s)")


def cmd_info(args):
  from tfvrc import bitstream
  data = _read(args.file)
  header, layers = bitstream.unpack(data)
  pixels = header.height * header.width
  print(f"model:   {header.model_name} (weights {header.weights_digest.hex()})")
  print(f"format:  version {header.format_version}"
        + (" (fixed-point table indexes)"
           if bitstream.fixed_point_tables(header) else ""))
  print(f"rate:    {header.rate:g}")
  print(f"image:   {header.width}x{header.height}")
  print(f"layers:  {header.num_layers}")
  for index, strings in enumerate(layers, 1):
    print(f"layer {index}: {len(strings)} strings, "
          f"{', '.join(str(len(s)) for s in strings)} bytes")
  print(f"size:    {len(data)} bytes, {len(data) * 8 / pixels:.4f} bpp")


def cmd_models(args):
  del args
  import numpy as np
  from tfvrc import models, zoo
  for name in zoo.names():
    meta = zoo.read_meta(zoo.path_of(name))
    model = models.create(meta["family"], **meta["config"])
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    lo, hi = model.rate_range
    size = os.path.getsize(zoo.path_of(name)) / 2 ** 20
    default = (" (default)" if name == zoo.DEFAULT_MODEL else
               " (retired: decodes the files it wrote)" if zoo.RETIRED in name
               else "")
    points = (" rate_points=[" + ", ".join(f"{p:g}" for p in model.rate_points)
              + "]" if model.rate_points else "")
    print(f"{name}{default}: family={meta['family']} rate_range=[{lo:g}, "
          f"{hi:g}]{points} params={params} weights={size:.1f} MB "
          f"steps={meta['steps']}")
  for family, cls in sorted(models.FAMILIES.items()):
    print(f"family {family}: {cls.__doc__.splitlines()[0]} "
          "(train with `tfvrc train --model "
          f"{family}`)")


def cmd_demo(args):
  import numpy as np
  from tfvrc import coding, io, metrics, zoo
  codec = zoo.load(args.model)
  image = io.read_image(args.image)
  lo, hi = codec.rate_range
  rates = np.unique(np.linspace(lo, hi, args.rates).astype(np.float32))
  os.makedirs(args.out, exist_ok=True)
  print(f"model {codec.codec_name}, image {args.image} "
        f"({image.shape[1]}x{image.shape[0]})")
  print(f"{'rate':>10} {'bytes':>8} {'bpp':>7} {'PSNR':>7} {'MS-SSIM':>8}")
  for i, rate in enumerate(rates):
    data = coding.encode(codec, image, rate)
    decoded = coding.decode(codec, data)
    stem = os.path.join(args.out, f"demo-{i}")
    io.atomic_write(stem + ".tfvrc", data, force=True)
    io.write_image(stem + ".png", decoded, force=True)
    print(f"{rate:>10.4g} {len(data):>8} "
          f"{metrics.bpp(len(data), image.shape):>7.4f} "
          f"{metrics.psnr(image, decoded):>7.2f} "
          f"{metrics.ms_ssim(image, decoded):>8.4f}")
  print(f"files in {args.out}/ (demo-*.tfvrc and their decoded demo-*.png)")


def cmd_export(args):
  from tfvrc import zoo
  if args.serving:
    from tfvrc.serving import signatures
    path = signatures.export(zoo.load(args.model), args.output, args.version)
    print(f"{path}: SavedModel for TF Serving (stock ops) with analyze, "
          "indexes_k, synthesize and describe signatures")
    return
  _check_output(args.output, args.force)
  from tfvrc import export
  export.export(zoo.load(args.model), args.output, force=args.force)
  print(f"{args.output}: SavedModel with compress/decompress signatures")


def cmd_train(args):
  from absl import app
  from tfvrc import train
  app.run(train.main, argv=["tfvrc train"] + args.flags)


def add_precision(command):
  command.add_argument(
      "--precision", choices=("float32", "bfloat16"), default="float32",
      help="of the analysis and synthesis transforms (bfloat16: faster on "
      "CPUs with bfloat16 units, pixels differ slightly; files decode in "
      "either precision)")


def add_server(command):
  command.add_argument(
      "--server", help="code through a serving model: http(s)://HOST:PORT "
      "(TF Serving REST), grpc://HOST:PORT, or a folder `tfvrc export "
      "--serving` wrote; --model names it")


def parser():
  p = argparse.ArgumentParser(
      prog="tfvrc", description="Variable-rate learned image compression.")
  sub = p.add_subparsers(dest="command", required=True)

  c = sub.add_parser("compress", help="image -> .tfvrc file")
  c.add_argument("input", help="PNG or JPEG image")
  c.add_argument("output", nargs="?", help="default: INPUT.tfvrc")
  c.add_argument("--model", help="zoo name, weights file or SavedModel "
                 "(default: the built-in default)")
  target = c.add_mutually_exclusive_group()
  target.add_argument("--rate", type=float, help="rate knob in the model's "
                      "rate_range (larger = more bits; see `tfvrc models`)")
  target.add_argument("--target-bpp", type=float, help="search the rate for "
                      "the largest file of at most this many bits per pixel")
  target.add_argument("--target-psnr", type=float, help="search the rate for "
                      "the smallest file reaching this PSNR (dB)")
  c.add_argument("--force", action="store_true", help="overwrite OUTPUT")
  add_server(c)
  add_precision(c)
  c.set_defaults(run=cmd_compress)

  d = sub.add_parser("decompress", help=".tfvrc file -> image")
  d.add_argument("input")
  d.add_argument("output", nargs="?", help="default: INPUT.png")
  d.add_argument("--model", help="default: the model named in the file")
  d.add_argument("--force", action="store_true", help="overwrite OUTPUT")
  d.add_argument("--max-pixels", type=int, help="refuse larger images "
                 "before decoding (default: tfvrc.coding.MAX_PIXELS, 2^26)")
  d.add_argument("--layers", type=int, help="of a layered file: decode only "
                 "its first LAYERS layers (default: all it holds)")
  add_server(d)
  add_precision(d)
  d.set_defaults(run=cmd_decompress)

  cd = sub.add_parser("compress-dir", help="every image under a folder -> "
                      ".tfvrc files under another (resumable)")
  cd.add_argument("input")
  cd.add_argument("output")
  cd.add_argument("--model", help="default: the built-in default")
  cd.add_argument("--rate", type=float, help="default: the model's default")
  cd.add_argument("--quiet", action="store_true", help="no progress bar")
  add_precision(cd)
  cd.set_defaults(run=cmd_compress_dir)

  dd = sub.add_parser("decompress-dir", help="every .tfvrc file under a "
                      "folder -> PNGs under another (resumable)")
  dd.add_argument("input")
  dd.add_argument("output")
  dd.add_argument("--model", help="default: the model named in each file")
  dd.add_argument("--quiet", action="store_true", help="no progress bar")
  add_precision(dd)
  dd.set_defaults(run=cmd_decompress_dir)

  tr = sub.add_parser("truncate", help="a layered .tfvrc file -> a smaller "
                      "valid file of its first layers (no TensorFlow)")
  tr.add_argument("input")
  tr.add_argument("output")
  tr.add_argument("--layers", type=int, required=True)
  tr.add_argument("--force", action="store_true", help="overwrite OUTPUT")
  tr.set_defaults(run=cmd_truncate)

  i = sub.add_parser("info", help="print a .tfvrc file's header")
  i.add_argument("file")
  i.set_defaults(run=cmd_info)

  m = sub.add_parser("models", help="list the models and families")
  m.set_defaults(run=cmd_models)

  e = sub.add_parser("demo", help="code a sample image at a few rates")
  e.add_argument("--image", default=SAMPLE_IMAGE)
  e.add_argument("--model")
  e.add_argument("--rates", type=int, default=4,
                 help="rates spread over the model's range")
  e.add_argument("--out", default="tfvrc-demo",
                 help="folder for the demo files (replaced on each run)")
  e.set_defaults(run=cmd_demo)

  x = sub.add_parser("export", help="write a SavedModel")
  x.add_argument("output", help="its folder; with --serving, the model base "
                 "folder TF Serving watches (OUTPUT/NAME/VERSION is written)")
  x.add_argument("--model")
  x.add_argument("--force", action="store_true")
  x.add_argument("--serving", action="store_true", help="a SavedModel of "
                 "stock TF ops for TF Serving; clients range-code (--server)")
  x.add_argument("--version", type=int, help="with --serving: the version "
                 "folder (default: one above the latest)")
  x.set_defaults(run=cmd_export)

  t = sub.add_parser("train", help="train a model (flags: python -m "
                     "tfvrc.train --helpfull)", add_help=False)
  t.add_argument("flags", nargs=argparse.REMAINDER)
  t.set_defaults(run=cmd_train)

  from tfvrc import classical, evaluate, plot
  evaluate.add_parsers(sub)
  classical.add_parsers(sub)
  plot.add_parsers(sub)
  return p


def main(argv=None):
  # argparse's REMAINDER drops a leading option, so `train` keeps its own
  # (absl) flags: everything after the word goes to the trainer.
  args, rest = parser().parse_known_args(argv)
  if args.command == "train":
    args.flags = rest + args.flags
  elif rest:
    parser().error(f"unrecognized arguments: {' '.join(rest)}")
  from tfvrc import bitstream, cpu, io
  if getattr(args, "precision", None) == "bfloat16":
    warning = cpu.bfloat16_warning()
    if warning:
      print(f"tfvrc {args.command}: warning: {warning}", file=sys.stderr)
  try:
    args.run(args)
  except (OSError, ValueError, bitstream.BitstreamError, io.ImageError) as e:
    print(f"tfvrc {args.command}: error: {e}", file=sys.stderr)
    return 1
  return 0


# Commands that have written and closed their output when `main` returns:
# they exit without tearing TensorFlow down, about 1 s of a one-image call.
_EXIT_AT_ONCE = ("compress", "decompress")


def run():
  code = main()
  if sys.argv[1:2] and sys.argv[1] in _EXIT_AT_ONCE:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access
  sys.exit(code)
