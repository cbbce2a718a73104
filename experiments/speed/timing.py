"""Timing shared by the speed scripts."""

import statistics
import time


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
