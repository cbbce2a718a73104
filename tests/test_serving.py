"""The serving split (issue 17): a SavedModel of stock ops, and a client
whose files are byte for byte those of `tfvrc compress`, through a local
SavedModel and stand-ins of TF Serving's REST and gRPC APIs."""

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import bitstream
from tfvrc import cli
from tfvrc import coding
from tfvrc import io
from tfvrc import models
from tfvrc import zoo
from tfvrc.serving import backends
from tfvrc.serving import client
from tfvrc.serving import signatures

import serving_standin

RATES = (0., 3.7, 10.)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
  """The built-in model's serving SavedModel (its NAME/VERSION folder)."""
  return signatures.export(model, str(tmp_path_factory.mktemp("serving")))


@pytest.fixture(scope="module")
def crop(sample):
  return sample[100:164, 200:296]


def test_export_writes_tf_servings_layout(model, exported):
  assert exported.endswith(os.path.join(model.codec_name, "1"))
  base = os.path.dirname(os.path.dirname(exported))
  assert signatures.next_version(os.path.dirname(exported)) == 2
  with pytest.raises(FileExistsError, match="give another --version"):
    signatures.export(model, base, version=1)


def test_loads_and_runs_without_tfc_or_tfvrc(exported):
  """A stock TensorFlow loads it: a process that never imports
  tensorflow_compression or tfvrc runs every signature."""
  script = textwrap.dedent(f"""
      import sys
      import numpy as np
      import tensorflow as tf
      s = tf.saved_model.load({exported!r}).signatures
      image = tf.constant(np.full((40, 70, 3), 128, np.uint8))
      rate = tf.constant(5.)
      shape = tf.constant([40, 70])
      coded = s["analyze"](image=image, rate=rate)
      side = s["indexes_1"](shape=shape, rate=rate)["indexes"]
      latent = s["indexes_0"](shape=shape, rate=rate,
                              symbols_1=coded["symbols_1"])["indexes"]
      out = s["synthesize"](shape=shape, rate=rate,
                            symbols_0=coded["symbols_0"],
                            symbols_1=coded["symbols_1"])["image"]
      info = s["describe"](protocol=tf.constant(1))
      assert np.array_equal(side, coded["indexes_1"])
      assert np.array_equal(latent, coded["indexes_0"])
      loaded = [m for m in sys.modules
                if m.split(".")[0] in ("tensorflow_compression", "tfvrc")]
      print(sorted(s), out.shape, info["model_name"].numpy().decode(), loaded)
      """)
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  result = subprocess.run([sys.executable, "-c", script], cwd="/",
                          capture_output=True, text=True, timeout=300,
                          env=env, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split("\n")[-2] == (
      "['analyze', 'describe', 'indexes_0', 'indexes_1', 'serving_default',"
      " 'synthesize'] (40, 70, 3) gained-mse []")


@pytest.fixture(scope="module")
def frozen(model, tmp_path_factory):
  """The built-in model's frozen signatures (the CLI's cache entry)."""
  path = str(tmp_path_factory.mktemp("frozen") / "model")
  signatures.freeze(model, path)
  return path


@pytest.fixture(scope="module", params=["savedmodel", "frozen"])
def local(request, exported):
  """A client of the serving SavedModel, or of the frozen signatures run
  with grappler off (`backends.Frozen`)."""
  if request.param == "frozen":
    return client.Client(backends.Frozen(request.getfixturevalue("frozen")))
  return client.Client(backends.Local(exported))


def test_client_writes_the_files_compress_writes(model, local, crop):
  """The same bytes; the same pixels from the SavedModel, and within a grey
  level (the README's promise across settings) from the frozen graphs, run
  with grappler off: on an AVX-512 CPU one value of the default model's crop
  came out a level apart."""
  assert (local.codec_name, local.digest) == (model.codec_name, model.digest)
  tolerance = int(isinstance(local.backend, backends.Frozen))
  for rate in RATES:
    data = coding.encode(local, crop, rate)
    assert data == coding.encode(model, crop, rate)
    difference = (coding.decode(local, data).astype(int)
                  - coding.decode(model, data))
    assert np.abs(difference).max() <= tolerance


def test_a_damaged_frozen_model_is_refused(frozen, tmp_path):
  damaged = tmp_path / "damaged"
  shutil.copytree(frozen, damaged)
  with open(damaged / "synthesize.pb", "r+b") as f:
    f.truncate(100)
  with pytest.raises(backends.ServingError, match="synthesize.pb is missing "
                     "or damaged"):
    backends.Frozen(str(damaged))
  with pytest.raises(backends.ServingError, match="no frozen signatures"):
    backends.Frozen(str(tmp_path))


def test_range_coding_ops_load_before_and_after_tfc():
  """`indexed_coding` loads tfc's op library alone; tfc imported after it
  still has its ops, and both code alike."""
  script = textwrap.dedent("""
      import numpy as np
      from tfvrc.entropy import indexed_coding
      cdf, offset = [16, 0, 30000, 65536], [0]
      symbols = np.array([[[[0], [1], [0]]]], np.int32)
      ours = indexed_coding.encode(cdf, offset, symbols, 0 * symbols)
      import tensorflow_compression as tfc
      from tensorflow_compression.python.ops import gen_ops
      handle = gen_ops.create_range_encoder([1], cdf)
      handle = gen_ops.entropy_encode_index(handle, 0 * symbols, symbols)
      print(ours.numpy() == gen_ops.entropy_encode_finalize(handle).numpy())
      """)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=300, check=False)
  assert result.stdout.split("\n")[-2] == "[ True]", result.stderr[-3000:]


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_rest_and_grpc_clients_write_the_same_files(model, exported, crop,
                                                    api):
  served = serving_standin.Model(model.codec_name, exported)
  server = {"rest": serving_standin.rest_server,
            "grpc": serving_standin.grpc_server}[api]
  scheme = {"rest": "", "grpc": "grpc://"}[api]
  with server(served) as address:
    remote = client.Client(backends.connect(scheme + address,
                                            model.codec_name))
    data = coding.encode(remote, crop, 3.7)
    assert data == coding.encode(model, crop, 3.7)
    np.testing.assert_array_equal(coding.decode(remote, data),
                                  coding.decode(model, data))
    with pytest.raises(backends.ServingError, match="rate above range"):
      remote.compress(crop, 11.)  # the server's own check
    with pytest.raises(backends.ServingError, match="[Ss]ervable not found"):
      client.Client(backends.connect(scheme + address, "another-model"))


def test_client_refuses_what_coding_refuses(model, local, crop):
  with pytest.raises(ValueError, match="outside the range"):
    coding.encode(local, crop, 10.5)
  data = coding.encode(model, crop, 5.)
  header, [strings] = bitstream.unpack(data)
  cut = bitstream.pack(header, [[strings[0][:len(strings[0]) // 2],
                                 strings[1]]])
  with pytest.raises(bitstream.BitstreamError, match="does not decode"):
    coding.decode(local, cut)
  other = bitstream.pack(dataclasses.replace(header, model_name="other"),
                         [strings])
  with pytest.raises(bitstream.BitstreamError, match="other"):
    coding.decode(local, other)


def test_server_refuses_another_protocol(exported):
  with pytest.raises(backends.ServingError, match="protocol"):
    backends.Local(exported).predict("describe", {"protocol": np.int32(99)})


def test_per_rate_tables_are_concatenated(tmp_path):
  """A model with one entropy model per rate codes under one set of tables:
  each rate's indexes point into its own part."""
  model = models.create("modulated-factorized", num_filters=8,
                        latent_depth=12, lmbdas=[0.001, 0.01, 0.1])
  for i, prior in enumerate(model.priors):
    for w in prior.trainable_variables:
      w.assign(w + 0.3 * i)
  model.build_coders()
  codec = coding.Codec.of(model, "factorized")
  remote = client.Client(backends.Local(
      signatures.export(codec, str(tmp_path))))
  image = np.random.default_rng(0).integers(0, 256, (48, 40, 3), np.uint8)
  for rate in (0.001, 0.01, 0.1):
    data = coding.encode(remote, image, rate)
    assert data == coding.encode(codec, image, rate)
    np.testing.assert_array_equal(coding.decode(remote, data),
                                  coding.decode(codec, data))


@pytest.mark.slow
def test_layered_files_through_the_server(tmp_path, crop):
  """The shipped RNN model: every prefix of layers, as `tfvrc compress`
  writes and decodes it; a full file decodes any prefix; `analyze` runs
  only the iterations of the layers asked for (slow: exporting its unrolled
  steps, once per number of layers, takes most of a minute)."""
  codec = zoo.load("scalable-rnn-mse")
  exported = signatures.export(codec, str(tmp_path))
  remote = client.Client(backends.Local(exported))
  for layers in (1, 3):
    data = coding.encode(remote, crop, layers)
    assert data == coding.encode(codec, crop, layers)
  full = coding.encode(codec, crop, 4)
  for layers in (2, 4):
    np.testing.assert_array_equal(
        coding.decode(remote, full, layers=layers),
        coding.decode(codec, full, layers=layers))
  analyze = tf.saved_model.load(exported).signatures["analyze"]
  one, every = (analyze(image=tf.constant(crop), rate=tf.constant(layers))
                for layers in (1., 4.))
  for name in every:
    if name.endswith(("_0", "_1")):  # layer 1's strings
      np.testing.assert_array_equal(one[name], every[name])
    else:
      assert tf.size(one[name]) == 0 < tf.size(every[name]), name


@pytest.mark.parametrize("family,backend", [
    pytest.param("asymmetric_msrb", "savedmodel", marks=pytest.mark.slow),
    ("asymmetric_msrb-gained", "frozen")])
def test_a_context_model_codes_through_the_server(tmp_path, crop, family,
                                                  backend):
  """MSRB's y is coded by the client, with the server's context-model step
  between range-coder calls: the files and decodes of the local model."""
  tf.keras.utils.set_random_seed(5)
  model = models.create(family, num_filters=16)
  model.build_coders()
  codec = coding.Codec.of(model, "msrb")
  if backend == "frozen":
    signatures.freeze(codec, str(tmp_path / "frozen"))
    remote = client.Client(backends.Frozen(str(tmp_path / "frozen")))
  else:
    exported = signatures.export(codec, str(tmp_path))
    remote = client.Client(backends.Local(exported))
  rng = np.random.default_rng(1)  # the step's floats, not only its tables
  step = dict(taps=rng.integers(-9, 10, (50, 12 * 16)).astype(np.float32),
              phi=rng.normal(size=(50, 32)).astype(np.float32),
              channels=np.arange(16, dtype=np.int32), minmax=np.int32(9))
  np.testing.assert_array_equal(
      remote.backend.predict("step_0", step)["pmfs"],
      model.context_codec.coding_step(*step.values()))
  for rate in sorted({model.rate_range[0], model.rate_range[1]}):
    data = coding.encode(remote, crop, rate)
    assert data == coding.encode(codec, crop, rate)
    y_string = bitstream.unpack(data)[1][0][0]
    assert len(y_string) > 20  # symbols were coded, not only a header
    np.testing.assert_array_equal(coding.decode(remote, data),
                                  coding.decode(codec, data))
  if backend == "savedmodel":  # and its floats through REST's JSON
    served = serving_standin.Model("msrb", exported)
    with serving_standin.rest_server(served) as address:
      rest = client.Client(backends.connect(address, "msrb"))
      assert coding.encode(rest, crop, rate) == data
      np.testing.assert_array_equal(coding.decode(rest, data),
                                    coding.decode(codec, data))


def test_cli_codes_through_a_served_folder(exported, crop, tmp_path):
  image = str(tmp_path / "crop.png")
  io.write_image(image, crop)
  served, local_file = tmp_path / "served.tfvrc", tmp_path / "local.tfvrc"
  folder = os.path.dirname(exported)
  assert cli.main(["compress", image, str(served), "--rate", "2",
                   "--server", folder]) == 0
  assert cli.main(["compress", image, str(local_file), "--rate", "2"]) == 0
  assert served.read_bytes() == local_file.read_bytes()
  assert cli.main(["decompress", str(served), str(tmp_path / "a.png"),
                   "--server", folder]) == 0
  assert cli.main(["compress", image, str(tmp_path / "x.tfvrc"),
                   "--server", "http://127.0.0.1:9"]) == 1
