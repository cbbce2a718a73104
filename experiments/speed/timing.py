"""Timing and reporting shared by the speed scripts."""

import json
import os
import platform
import statistics
import time

import tensorflow as tf

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


def squared_gradients(function, sources):
  """Gradients with respect to `sources` of the float32 sum of squares of
  `function()`: a forward and backward pass, as a training step has."""
  with tf.GradientTape() as tape:
    tape.watch(sources)
    output = tf.cast(function(), tf.float32)
    loss = tf.reduce_sum(output * output)
  return tape.gradient(loss, sources)


def gradient_time(function, sources, runs):
  """`median_time` of `squared_gradients`, traced."""
  step = tf.function(lambda: squared_gradients(function, sources),
                     autograph=False)
  return median_time(lambda: [g.numpy() for g in step()], runs)


def write_results(path, load_average, **results):
  """`results` as JSON at `path`, beside the machine they were measured on
  and its load average when the measurement started."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"cpu": cpu.field("model name"), "machine": platform.machine(),
               "cpus": os.cpu_count(), "load_average_at_start": load_average,
               **results}, f, indent=2)
  print(f"Wrote {path}")
