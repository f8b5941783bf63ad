"""Backends on a GPU: torch on CUDA (fp32, fp16) and our TensorRT engines through the trt backend,
against torch on the CPU. They skip, with the reason, on machines without a GPU or TensorRT."""

from __future__ import annotations

import numpy as np
import pytest

from test_backends import export_toy
from vfi.export.engine_sidecar import write_sidecar
from vfi.runtime.interpolator import Interpolator

pytestmark = pytest.mark.usefixtures("toy_registered")


def pair(height=37, width=53):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), np.uint8) for _ in range(2)]


@pytest.mark.gpu
@pytest.mark.parametrize("precision, tolerance", [("fp32", 0), ("fp16", 1)])
def test_torch_on_cuda(precision, tolerance):
    f0, f1 = pair()
    on_cpu = Interpolator(model="toy_blend").interpolate(f0, f1, 0.3)
    on_gpu = Interpolator(model="toy_blend", device="cuda", dtype=precision).interpolate(f0, f1, 0.3)
    assert np.abs(on_cpu.astype(int) - on_gpu.astype(int)).max() <= tolerance


def build_engine(onnx_path, engine_path, profile=((16, 16), (64, 64), (256, 256))):
    """A strongly typed engine for a toy model, with its sidecar, built with TensorRT directly
    (the project's builder, `vfi build`, is not needed to test the runtime)."""
    import tensorrt as trt

    from vfi.export.engine_sidecar import sidecar_environment
    from vfi.plugins.tensorrt_loading import Cuda, import_cudart

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(onnx_path.read_bytes()), [parser.get_error(i) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    optimisation = builder.create_optimization_profile()
    for name in ("frame0", "frame1"):
        optimisation.set_shape(name, *[(1, 3, h, w) for h, w in profile])
    if network.num_inputs == 3:
        optimisation.set_shape("t", (1,), (1,), (1,))
    config.add_optimization_profile(optimisation)
    engine_path.write_bytes(bytes(builder.build_serialized_network(network, config)))
    here = sidecar_environment(Cuda(import_cudart()), trt, None)
    write_sidecar(engine_path, {
        **here, "onnx_sha256": "unused", "onnx_path": str(onnx_path), "precision": "fp32",
        "profile": {"min": list(profile[0]), "opt": list(profile[1]), "max": list(profile[2])}, "vfi_version": "test",
    })
    return engine_path


@pytest.mark.gpu
@pytest.mark.trt
@pytest.mark.parametrize("model", ["toy_blend", "toy_mid"])
def test_trt_engine_matches_torch(tmp_path, model):
    engine = build_engine(export_toy(model, tmp_path / "m.onnx"), tmp_path / "m.engine")
    interp = Interpolator(engine=engine, batch_size=3)  # three samples over the two slots
    f0, f1 = pair()
    on_cpu = Interpolator(model=model).interpolate(f0, f1, 0.25)
    assert interp.arbitrary_t == (model == "toy_blend")
    np.testing.assert_array_equal(interp.interpolate(f0, f1, 0.25), on_cpu)
    small = [f[:9, :11] for f in (f0, f1)]  # below the profile's minimum: padded, then cropped back
    np.testing.assert_array_equal(interp.interpolate(*small, 0.25), Interpolator(model=model).interpolate(*small, 0.25))


@pytest.mark.gpu
@pytest.mark.trt
def test_trt_engine_in_the_video_pipeline(tmp_path):
    from clips import flat, level, read_clip, write_clip
    from vfi.runtime.video import EncoderOptions, process_video

    engine = build_engine(export_toy("toy_blend", tmp_path / "m.onnx"), tmp_path / "m.engine")
    source = write_clip(tmp_path / "in.mp4", [flat(20 + 40 * i) for i in range(5)])
    summary = process_video(Interpolator(engine=engine, scene_threshold=None), source, tmp_path / "out.mp4",
                            factor=2, encoder=EncoderOptions(codec="ffv1"))
    assert summary.written == 9 and summary.lost == 0
    np.testing.assert_allclose([level(f) for f in read_clip(tmp_path / "out.mp4").frames],
                               [20 + 20 * k for k in range(9)], atol=1.0)
