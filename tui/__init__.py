"""dl-tui: run the notebook's exported ONNX models from the terminal (no TensorFlow)."""

__version__ = "0.1.0"
