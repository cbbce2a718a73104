"""Rate-distortion plots of results files: `tfvrc plot`.

Reads what `evaluate.read_results` reads (our and CompressAI's JSON,
tensorflow-compression's and Cheng 2020's two-column text) and draws quality
against bpp with matplotlib (Agg), one curve per file.
"""

import io
import os

from tfvrc import evaluate

MARKERS = "osD^v<>pX*h"


def plot(curves, metric="psnr-rgb", db=False, title=None, max_bpp=None):
  """A matplotlib Figure with one line per results dict of `curves`.

  `db` shows MS-SSIM as -10 log10(1 - MS-SSIM); `max_bpp` cuts the x axis
  (points beyond it are dropped, so the y axis fits what is shown).
  """
  # A bare Figure (no pyplot) renders with Agg and leaves the user's backend
  # and pyplot's global state alone.
  # pylint: disable=import-outside-toplevel
  import matplotlib
  from matplotlib import figure
  fig = figure.Figure(figsize=(8, 6), dpi=100)
  ax = fig.add_subplot()
  colors = matplotlib.colormaps["tab10" if len(curves) <= 10 else "tab20"]
  for i, curve in enumerate(curves):
    points = evaluate.curve_points(curve, metric, db)
    points = points[points[:, 0].argsort()]
    if max_bpp is not None:
      points = points[points[:, 0] <= max_bpp]
    ax.plot(points[:, 0], points[:, 1], marker=MARKERS[i % len(MARKERS)],
            markersize=4 if len(points) > 1 else 8,  # a fixed-rate model
            linewidth=1.5, color=colors(i % colors.N),
            label=curve["name"])
  ax.set_xlabel("bits per pixel (bpp)")
  ax.set_ylabel(evaluate.quality_label(metric, db))
  if max_bpp is not None:
    ax.set_xlim(0, max_bpp)
  ax.grid(True, alpha=0.3)
  ax.legend(fontsize="small", loc="lower right")
  ax.set_title(title or f"{evaluate.quality_label(metric, db)} against rate")
  fig.tight_layout()
  return fig


def png_bytes(fig):
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png")
  return buffer.getvalue()


def write_plot(path, curves, force=False, **kwargs):
  """Plots `curves` (see `plot`) into the PNG file `path`; returns the
  Figure."""
  if os.path.splitext(path)[1].lower() != ".png":
    raise ValueError(f"{path}: the plot is written as PNG; name it *.png")
  fig = plot(curves, **kwargs)
  evaluate.write_outputs({path: png_bytes(fig)}, force)
  return fig


def cmd_plot(args):
  evaluate.check_outputs([args.output], args.force)
  curves = [evaluate.read_results(path) for path in args.files]
  fig = write_plot(args.output, curves, force=args.force, metric=args.metric,
                   db=args.db, title=args.title, max_bpp=args.max_bpp)
  ax, = fig.axes
  print(f"{args.output}: {len(ax.lines)} curves, {args.metric}")


def add_parsers(sub):
  """Registers `plot` on the CLI's subparsers."""
  p = sub.add_parser("plot", help="plot RD curves of results files")
  p.add_argument("files", nargs="+", metavar="file",
                 help="results JSON or two-column text (bpp, metric)")
  p.add_argument("-o", "--output", default="rd.png", help="PNG (default "
                 "rd.png)")
  p.add_argument("--metric", default="psnr-rgb",
                 help="psnr-rgb (default), ms-ssim-rgb, or another list of "
                 "the files")
  p.add_argument("--db", action="store_true", help="MS-SSIM in dB")
  p.add_argument("--title")
  p.add_argument("--max-bpp", type=float, help="cut the rate axis here")
  p.add_argument("--force", action="store_true", help="overwrite OUTPUT")
  p.set_defaults(run=cmd_plot)
