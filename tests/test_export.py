"""The SavedModel works without tfvrc and codes exactly like the Python model."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfvrc import coding, export

STANDALONE = """
import sys
import numpy as np
import tensorflow as tf
import tensorflow_compression  # registers the range-coding ops
codec = tf.saved_model.load(sys.argv[1])
image = np.load(sys.argv[2])
rate = codec.default_rate
strings = codec.compress(image, rate)
shape = tf.constant(image.shape[:2], tf.int32)
decoded = codec.decompress(shape, rate, *strings)
np.savez(sys.argv[3], *[s.numpy()[0] for s in strings], decoded=decoded)
assert not any(m.startswith("tfvrc") for m in sys.modules), "tfvrc imported"
"""


@pytest.mark.slow
def test_savedmodel_in_a_process_without_tfvrc(model, sample, tmp_path):
  export.export(model, str(tmp_path / "codec"))
  image = sample[:96, :128]
  np.save(tmp_path / "image.npy", image)
  subprocess.run([sys.executable, "-c", STANDALONE, str(tmp_path / "codec"),
                  str(tmp_path / "image.npy"), str(tmp_path / "out.npz")],
                 check=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
  out = np.load(tmp_path / "out.npz")
  rate = tf.constant(model.default_rate, tf.float32)
  expected = [s.numpy()[0] for s in model.compress(image, rate)]
  assert [out[f"arr_{i}"].item() for i in range(len(expected))] == expected
  reconstruction, _ = model.reconstruct(image, rate)
  np.testing.assert_array_equal(out["decoded"], reconstruction.numpy())


def test_savedmodel_codec_reads_files_of_the_python_model(model, sample,
                                                          tmp_path):
  export.export(model, str(tmp_path / "codec"))
  codec = export.SavedModelCodec(str(tmp_path / "codec"))
  assert codec.codec_name == model.codec_name
  assert codec.digest == model.digest
  image = sample[:64, :64]
  data = coding.encode(model, image)
  assert coding.encode(codec, image) == data
  np.testing.assert_array_equal(coding.decode(codec, data),
                                coding.decode(model, data))
