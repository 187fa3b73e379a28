"""dl-train: train the notebook's four models with TensorFlow and export them to ONNX."""
