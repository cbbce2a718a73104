"""How a `serving.Client` reaches the signatures: a SavedModel or frozen
graphs in this process, or TF Serving's REST or gRPC predict API.

Each backend has `predict(signature, inputs) -> outputs`, dicts of numpy
arrays by the signature's input and output names. A server's refusal (a
rate out of range, an unknown model) raises `ServingError` with its message.
"""

import json
import os
import urllib.error
import urllib.request

from google.protobuf import message
import numpy as np
import tensorflow as tf

from tfvrc.serving import protocol


MAX_MESSAGE_BYTES = 256 << 20


class ServingError(OSError):
  """The server refused or failed a request, or cannot be reached."""


def connect(address, model_name=None, version=None):
  """The backend at `address`: "http(s)://HOST:PORT" (REST),
  "grpc://HOST:PORT", the folder of an exported model (`NAME/VERSION`, or
  `NAME/` for its latest version) or of frozen signatures. A server needs
  the served `model_name`."""
  if address.startswith(("http://", "https://", "grpc://")):
    if not model_name:
      raise ValueError(f"name the model {address} serves (--model)")
    if address.startswith("grpc://"):
      return Grpc(address[len("grpc://"):], model_name, version)
    return Rest(address, model_name, version)
  if os.path.isfile(os.path.join(address, protocol.FROZEN_INDEX)):
    return Frozen(address)
  return Local(_version_folder(address))


def _version_folder(path):
  if not os.path.isdir(path):
    raise FileNotFoundError(f"no serving model at {path}")
  versions = [v for v in os.listdir(path) if v.isdigit()]
  return os.path.join(path, max(versions, key=int)) if versions else path


class Local:
  """The serving SavedModel at `path` (a `NAME/VERSION` folder), loaded
  here: no server, same signatures."""

  def __init__(self, path):
    try:
      self.signatures = tf.saved_model.load(path).signatures
    except (OSError, ValueError) as e:
      raise ServingError(f"{path} is not a SavedModel ({e})") from None

  def predict(self, signature, inputs):
    try:
      outputs = self.signatures[signature](
          **{k: tf.constant(v) for k, v in inputs.items()})
    except tf.errors.InvalidArgumentError as e:
      raise _refusal(e) from None
    return {k: v.numpy() for k, v in outputs.items()}


def _refusal(error):
  """The ServingError of a signature's failed check: its message."""
  lines = error.message.strip().splitlines()
  return ServingError(next((l for l in lines if "assertion failed" in l),
                           lines[-1]))


class Frozen:
  """The frozen signatures at `path` (`signatures.freeze`), loaded here,
  each when first used: stock ops, no tensorflow_compression, no model code.

  They run in a v1 Session with grappler off: optimising a 20 MB graph cost
  about 1 s of the first call (`experiments/speed/README.md`), and the
  integers and pixels are those of the SavedModel with it on
  (`tests/test_serving.py`). Except a context model's step (`step_k`),
  whose pmfs pick a position's tables: grappler fuses its matmuls, which
  changes their floats by an ulp, so it runs with grappler on, as the
  model's own traced step does (a small graph: little to optimise)."""

  OPTIMIZED = ("step_",)

  def __init__(self, path):
    try:
      with open(os.path.join(path, protocol.FROZEN_INDEX),
                encoding="utf-8") as f:
        self.index = json.load(f)
    except (OSError, ValueError) as e:
      raise ServingError(f"{path} holds no frozen signatures ({e})") from None
    self.path = path
    for signature, tensors in self.index.items():
      graph = os.path.join(path, signature + ".pb")
      if not os.path.isfile(graph) or os.path.getsize(graph) != tensors.get(
          "bytes"):
        raise ServingError(f"{graph} is missing or damaged")
    self.graph = tf.Graph()
    plain = tf.compat.v1.ConfigProto()
    plain.graph_options.rewrite_options.disable_meta_optimizer = True
    self.sessions = {
        optimized: tf.compat.v1.Session(
            graph=self.graph,
            config=tf.compat.v1.ConfigProto() if optimized else plain)
        for optimized in (False, True)}
    self.imported = set()

  def _import(self, signature):
    """Adds `signature`'s graph under the name scope of its name."""
    graph_def = tf.compat.v1.GraphDef()
    try:
      with open(os.path.join(self.path, signature + ".pb"), "rb") as f:
        graph_def.ParseFromString(f.read())
      with self.graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name=signature)
    except (OSError, ValueError, message.DecodeError) as e:
      raise ServingError(f"{self.path}: {signature} is damaged ({e})") from None
    self.imported.add(signature)

  def predict(self, signature, inputs):
    tensors = self.index.get(signature)
    if tensors is None:
      raise ServingError(f"{self.path} has no signature {signature}")
    if signature not in self.imported:
      self._import(signature)
    fetches = {k: f"{signature}/{t}" for k, t in tensors["outputs"].items()}
    feeds = {f"{signature}/{tensors['inputs'][k]}": v
             for k, v in inputs.items()}
    session = self.sessions[signature.startswith(self.OPTIMIZED)]
    try:
      return session.run(fetches, feeds)
    except tf.errors.InvalidArgumentError as e:
      raise _refusal(e) from None


class Rest:
  """TF Serving's REST predict API (columnar "inputs" / "outputs"), e.g.
  Rest("http://localhost:8501", "gained-mse")."""

  def __init__(self, url, model_name, version=None, timeout=600):
    path = f"/v1/models/{model_name}"
    if version is not None:
      path += f"/versions/{int(version)}"
    self.url = url.rstrip("/") + path + ":predict"
    self.timeout = timeout

  def predict(self, signature, inputs):
    body = json.dumps({"signature_name": signature, "inputs": {
        k: np.asarray(v).tolist() for k, v in inputs.items()}}).encode()
    request = urllib.request.Request(
        self.url, body, {"Content-Type": "application/json"})
    try:
      with urllib.request.urlopen(request, timeout=self.timeout) as response:
        reply = json.load(response)
    except urllib.error.HTTPError as e:
      raise ServingError(_rest_error(e)) from None
    except urllib.error.URLError as e:
      raise ServingError(f"cannot reach {self.url}: {e.reason}") from None
    outputs = reply["outputs"]
    # A signature of one output is answered with its value alone.
    return outputs if isinstance(outputs, dict) else {
        protocol.only_output(signature): outputs}


def _rest_error(error):
  try:
    return json.load(error)["error"]
  except (ValueError, KeyError):
    return f"HTTP {error.code} {error.reason}"


class Grpc:
  """TF Serving's gRPC PredictionService, e.g.
  Grpc("localhost:8500", "gained-mse") (needs tensorflow-serving-api)."""

  def __init__(self, target, model_name, version=None, timeout=600):
    # pylint: disable=import-outside-toplevel
    import grpc
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_service_pb2_grpc
    self.grpc = grpc
    self.predict_pb2 = predict_pb2
    # The coder's tables (`describe`) can pass gRPC's default 4 MB.
    channel = grpc.insecure_channel(target, options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])
    self.stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    self.model_name, self.version = model_name, version
    self.timeout = timeout

  def predict(self, signature, inputs):
    request = self.predict_pb2.PredictRequest()
    request.model_spec.name = self.model_name
    if self.version is not None:
      request.model_spec.version.value = int(self.version)
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
      request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    try:
      reply = self.stub.Predict(request, timeout=self.timeout)
    except self.grpc.RpcError as e:
      raise ServingError(e.details()) from None
    return {k: tf.make_ndarray(v) for k, v in reply.outputs.items()}
