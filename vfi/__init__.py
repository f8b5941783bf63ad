"""vfi: video frame interpolation models as deployable ONNX / TensorRT artifacts."""

__version__ = "0.1.0"
