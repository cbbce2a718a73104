"""Fu et al.'s claims on Kodak: one decoder MSRB stage against three, and the
importance map and the post-quantization filter each gaining rate.

  nice -n 5 python experiments/asymmetric_msrb/run.py [--steps 1000] [--runs DIR]

Trains at one lambda and one scale (below, in the JSON), same steps, data
order and seed: the asymmetric codec (one decoder MSRB), its symmetric twin
(three), the asymmetric codec without the importance map and without the
PQF, and the asymmetric codec again with another seed, whose distance to the
first is the seed-to-seed noise the differences must beat. On Kodak through
real files: bpp, PSNR, MS-SSIM and encode / decode seconds per image of
each. Differences are reported at one lambda as (bpp ratio - 1) and PSNR
difference against the asymmetric run; the time split of decoding is
decode_time.py's. Writes experiments/asymmetric_msrb/results/
{asymmetric_msrb.json, rd.png, rd-msssim.png}.
"""

import os
import statistics
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import study  # pylint: disable=wrong-import-position

FLAGS = study.FLAGS

RUNS = {
    "msrb-asymmetric": (),
    "msrb-symmetric": ("--decoder_msrbs=3",),
    "msrb-no-importance-map": ("--noimportance_map",),
    "msrb-no-pqf": ("--nopqf",),
}
SECOND_SEED = "msrb-asymmetric-seed2"


def model_flags(extra):
  return ("--model=asymmetric_msrb", f"--lmbda={FLAGS.lmbdas[0]}", *extra)


def summary(name, curve):
  results = curve["results"]
  return {"run": name, "bpp": results["bpp"][0],
          "psnr": results["psnr-rgb"][0], "ms-ssim": results["ms-ssim-rgb"][0],
          "encode_s": results["encoding_time"][0],
          "decode_s": results["decoding_time"][0]}


def main(argv):
  del argv
  for name, extra in RUNS.items():
    study.train(name, *model_flags(extra))
  study.train(SECOND_SEED, *model_flags(("--seed=2",)))
  test_images = study.images()
  curves, params, rows = [], {}, []
  for name in (*RUNS, SECOND_SEED):
    curve, params[name] = study.evaluate_run(name, test_images)
    curves.append(curve)
    rows.append(summary(name, curve))
  reference = rows[0]
  print(f"{'run':<28}{'bpp':>8}{'PSNR':>8}{'bpp vs asym':>13}"
        f"{'dPSNR':>8}{'enc s':>8}{'dec s':>8}")
  for row in rows:
    row["bpp_change_percent"] = 100 * (row["bpp"] / reference["bpp"] - 1)
    row["psnr_difference"] = row["psnr"] - reference["psnr"]
    print(f"{row['run']:<28}{row['bpp']:8.4f}{row['psnr']:8.2f}"
          f"{row['bpp_change_percent']:12.1f}%{row['psnr_difference']:8.2f}"
          f"{row['encode_s']:8.2f}{row['decode_s']:8.2f}")
  noise = abs(rows[-1]["psnr_difference"])
  print(f"seed-to-seed: {noise:.3f} dB, "
        f"{abs(rows[-1]['bpp_change_percent']):.1f}% bpp; decode time "
        f"median {statistics.median(r['decode_s'] for r in rows):.2f} s")
  study.write("asymmetric_msrb", len(test_images), curves, [], params,
              extra={"runs": rows})


if __name__ == "__main__":
  FLAGS.set_default("lmbdas", ["0.0067"])
  FLAGS.set_default("num_filters", 32)
  FLAGS.set_default("patch_size", 128)
  FLAGS.set_default("batch_size", 8)
  FLAGS.set_default("steps", 1000)
  app.run(main)
