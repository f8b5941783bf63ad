"""vfi: video frame interpolation models as deployable ONNX / TensorRT artifacts."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `import vfi` stays light: the runtime (numpy, PyAV, a backend) loads on first use.
    if name == "Interpolator":
        from vfi.runtime.interpolator import Interpolator

        return Interpolator
    raise AttributeError(f"module 'vfi' has no attribute {name!r}")
