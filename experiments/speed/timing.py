"""Timing and reporting shared by the speed scripts."""

import json
import os
import platform
import statistics
import time

from tfvrc import cpu


def median_time(function, runs):
  """The median of `runs` timed calls of `function`, after one untimed call
  (tracing, caches)."""
  function()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def write_results(path, load_average, **results):
  """`results` as JSON at `path`, beside the machine they were measured on
  and its load average when the measurement started."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"cpu": cpu.field("model name"), "machine": platform.machine(),
               "cpus": os.cpu_count(), "load_average_at_start": load_average,
               **results}, f, indent=2)
  print(f"Wrote {path}")
