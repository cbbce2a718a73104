"""Stand-ins for TF Serving on 127.0.0.1, for the serving tests: its REST
predict API (columnar JSON, as TF Serving documents it) and its gRPC
PredictionService, both serving one SavedModel's signatures."""

import contextlib
import http.server
import json
import re
import threading
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc


class Model:
  """A SavedModel's signatures by name, called with numpy inputs cast to
  each input's dtype (as TF Serving does with JSON numbers)."""

  def __init__(self, name, path):
    self.name = name
    self.signatures = tf.saved_model.load(path).signatures

  def predict(self, signature, inputs):
    function = self.signatures[signature]
    specs = function.structured_input_signature[1]
    if set(inputs) != set(specs):
      raise ValueError(f"inputs {sorted(inputs)} do not match signature "
                       f"{signature}: {sorted(specs)}")
    return {k: np.asarray(v.numpy()) for k, v in function(**{
        k: tf.constant(np.asarray(v), specs[k].dtype)
        for k, v in inputs.items()}).items()}


def _json_value(array):
  if array.dtype.kind in "SO":
    return np.vectorize(lambda b: b.decode())(array).tolist()
  return array.tolist()


class _RestHandler(http.server.BaseHTTPRequestHandler):
  model = None  # set per server

  def do_POST(self):  # pylint: disable=invalid-name
    match = re.fullmatch(r"/v1/models/([^/:]+)(?:/versions/\d+)?:predict",
                         self.path)
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    try:
      if not match or match.group(1) != self.model.name:
        raise LookupError(f"Servable not found for request: {self.path}")
      outputs = self.model.predict(
          body.get("signature_name", "serving_default"), body["inputs"])
      reply = {k: _json_value(v) for k, v in outputs.items()}
      self._send(200, {"outputs": reply if len(reply) > 1
                       else next(iter(reply.values()))})
    except (LookupError, ValueError, tf.errors.OpError) as e:
      message = e.message if isinstance(e, tf.errors.OpError) else str(e)
      self._send(400 if not isinstance(e, LookupError) else 404,
                 {"error": message})

  def _send(self, status, reply):
    data = json.dumps(reply).encode()
    self.send_response(status)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):
    del args


@contextlib.contextmanager
def rest_server(model):
  """Yields the base URL of a REST stand-in serving `model`."""
  handler = type("Handler", (_RestHandler,), {"model": model})
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}"
  finally:
    server.shutdown()
    server.server_close()


class _Predictor(prediction_service_pb2_grpc.PredictionServiceServicer):

  def __init__(self, model):
    self.model = model

  def Predict(self, request, context):  # pylint: disable=invalid-name
    if request.model_spec.name != self.model.name:
      context.abort(grpc.StatusCode.NOT_FOUND,
                    f"Servable not found: {request.model_spec.name}")
    try:
      outputs = self.model.predict(
          request.model_spec.signature_name or "serving_default",
          {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
    except (ValueError, tf.errors.OpError) as e:
      context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                    e.message if isinstance(e, tf.errors.OpError) else str(e))
    reply = predict_pb2.PredictResponse()
    for name, value in outputs.items():
      reply.outputs[name].CopyFrom(tf.make_tensor_proto(value))
    return reply


@contextlib.contextmanager
def grpc_server(model):
  """Yields the host:port of a gRPC stand-in serving `model`."""
  server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[
      ("grpc.max_send_message_length", 64 << 20),
      ("grpc.max_receive_message_length", 64 << 20)])
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
      _Predictor(model), server)
  port = server.add_insecure_port("127.0.0.1:0")
  server.start()
  try:
    yield f"127.0.0.1:{port}"
  finally:
    server.stop(None)
