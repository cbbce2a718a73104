"""Deployment on a stock TF Serving: the networks on the server, the range
coding on the client.

`signatures.export` writes a SavedModel of stock TensorFlow ops (no
tensorflow_compression custom op) in TF Serving's layout; `client.Client`
entropy-codes what it returns into ordinary .tfvrc files, through one of the
`backends` (a local SavedModel, TF Serving's REST or gRPC predict API).
"""
