"""Parity and contract tests for every registered op, generated from the registry.

A new op in vfi.plugins.OPS is tested here without a new test file.
"""

from __future__ import annotations

import pytest
import torch

from vfi.plugins.onnx_model import custom_nodes, node_attrs
from vfi.plugins.onnx_model import op_model, run_op_in_ort
from vfi.plugins import NATIVE_OPS, OPS
from vfi.plugins.onnx_function import PLUGIN_ATTRS
from vfi.plugins.spec import NAMESPACE, scaled_error

IMPLEMENTATIONS = {
    "torch_op": lambda op, inputs, attrs: op.function(*inputs, **attrs),
    "onnx_ort": lambda op, inputs, attrs: torch.from_numpy(run_op_in_ort(op, inputs, attrs)),
}


def _params(items_of, ops=OPS):
    return [
        pytest.param(op, item, id=f"{op.name}-{item.name}") for op in ops for item in items_of(op.spec)
    ]


SAMPLE_CASES = _params(lambda spec: spec.sample_cases())
WORKED_EXAMPLES = _params(lambda spec: spec.worked_examples())
# For the native tiers (tests/plugins/test_native_*.py, emulated kernels, plugin lifecycle).
NATIVE_SAMPLE_CASES = _params(lambda spec: spec.sample_cases(), NATIVE_OPS)
NATIVE_WORKED_EXAMPLES = _params(lambda spec: spec.worked_examples(), NATIVE_OPS)
INVALID_CASES = _params(lambda spec: spec.invalid_cases())
OP_PARAMS = [pytest.param(op, id=op.name) for op in OPS]
CUSTOM_NODE_OPS = [op for op in OPS if op.standard_onnx is None]  # the rest export as a standard node


@pytest.mark.parametrize("op,example", WORKED_EXAMPLES)
@pytest.mark.parametrize("impl", ["reference", *IMPLEMENTATIONS])
def test_upstream_worked_example(impl, op, example):
    run = IMPLEMENTATIONS.get(impl, lambda op, inputs, attrs: op.reference(*inputs, **attrs))
    actual = run(op, example.inputs, example.attrs)
    # The upstream values are printed to 6-7 significant digits.
    assert scaled_error(actual, example.expected) <= 1e-6


@pytest.mark.parametrize("op,case", SAMPLE_CASES)
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_fp32_matches_reference(impl, op, case):
    inputs = case.inputs(torch.float32)
    expected = op.reference(*inputs, **case.attrs)
    actual = IMPLEMENTATIONS[impl](op, inputs, case.attrs)
    assert actual.dtype == torch.float32
    assert scaled_error(actual, expected) <= op.spec.tolerance.fp32


SCATTERING_OPS = [
    pytest.param(op, id=op.name)
    for op in OPS
    if any(node.op_type.startswith("Scatter") for f in op.onnx_functions() for node in f.node)
]


@pytest.mark.parametrize("op", SCATTERING_OPS)
def test_onnx_body_is_exact_with_several_threads(op):
    """ONNX Runtime splits some kernels over its intra-op threads without synchronisation
    (ScatterND with a reduction loses colliding additions): a body that scatters must not depend
    on the thread count. The largest sample case, 4 threads, twice."""
    import onnxruntime as ort

    case = max(op.spec.sample_cases(), key=lambda c: sum(t.numel() for t in c.inputs() if t is not None))
    inputs = case.inputs(torch.float32)
    expected = op.reference(*inputs, **case.attrs)
    model = op_model(op, case.attrs, tuple(t is not None for t in inputs))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = {spec.name: t.numpy() for spec, t in zip(op.spec.inputs, inputs) if t is not None}
    for _ in range(2):
        assert scaled_error(torch.from_numpy(session.run(None, feeds)[0]), expected) <= op.spec.tolerance.fp32


@pytest.mark.parametrize("op,case", SAMPLE_CASES)
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_fp16_error_is_bounded_by_fp32_error(impl, op, case):
    """OPS.md: the fp16 path's error vs an fp64 reference is at most a small multiple of the fp32
    path's error plus a floor. All paths see the same fp16-representable inputs."""
    inputs16 = case.inputs(torch.float16)
    exact = op.reference(*(None if t is None else t.double() for t in inputs16), **case.attrs)
    run = IMPLEMENTATIONS[impl]
    error32 = scaled_error(run(op, tuple(None if t is None else t.float() for t in inputs16), case.attrs), exact)
    actual16 = run(op, inputs16, case.attrs)
    assert actual16.dtype == torch.float16
    tol = op.spec.tolerance
    assert scaled_error(actual16, exact) <= tol.fp16_bound(error32)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_reference_gradcheck(op):
    case = op.spec.gradcheck_case()
    inputs = case.inputs(torch.float64)
    differentiable = [
        t is not None and spec.differentiable for spec, t in zip(op.spec.inputs, inputs)
    ]
    assert any(differentiable)

    def reference(*grad_inputs):
        it = iter(grad_inputs)
        full = [next(it) if d else t for t, d in zip(inputs, differentiable)]
        return op.reference(*full, **case.attrs)

    leaves = [t.clone().requires_grad_() for t, d in zip(inputs, differentiable) if d]
    assert torch.autograd.gradcheck(reference, leaves)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_torch_op_gradient_equals_reference_gradient(op):
    case = op.spec.gradcheck_case()
    inputs = [None if t is None else t.requires_grad_() for t in case.inputs(torch.float64)]
    present = [t for t in inputs if t is not None]
    grad_out = torch.rand_like(op.reference(*inputs, **case.attrs))
    expected = torch.autograd.grad(op.reference(*inputs, **case.attrs), present, grad_out)
    actual = torch.autograd.grad(op.function(*inputs, **case.attrs), present, grad_out)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e)


OPCHECK_CASES = [
    pytest.param(op, case, id=f"{op.name}-{case.name}")
    for op in OPS
    for case in [op.spec.gradcheck_case(), *op.spec.sample_cases()]
    if case.opcheck and sum(t.numel() for t in case.inputs() if t is not None) < 20_000
]


@pytest.mark.parametrize("op,case", OPCHECK_CASES)
def test_torch_library_opcheck(op, case):
    inputs = [None if t is None else t.requires_grad_() for t in case.inputs()]
    attrs = [case.attrs[a.name] for a in op.spec.attrs]
    # rtol: test_aot_dispatch_dynamic compares eager gradients with AOTDispatcher's traced
    # decomposition, which sums in another order; adacof's embedding_bag per-sample-weight
    # gradient (a 64-channel dot product) differed by 1.5e-5 abs / 2.1e-5 rel on
    # c64_f3_d1_batch2 (opcheck's float32 default: atol 1e-5, rtol 1.3e-6).
    torch.library.opcheck(op.torch_op, (*inputs, *attrs), atol=op.spec.tolerance.fp32, rtol=op.spec.tolerance.fp32)


@pytest.mark.parametrize("op,case", INVALID_CASES)
def test_invalid_arguments_raise_value_error(op, case):
    with pytest.raises(ValueError, match=case.message):
        op.function(*case.inputs, **case.attrs)


@pytest.mark.parametrize("op", OP_PARAMS)
def test_identity_is_consistent_across_layers(op):
    spec = op.spec
    assert op.torch_op._qualname == spec.torch_name == f"{NAMESPACE}::{spec.name}"
    assert getattr(torch.ops.vfi, spec.name).default is op.torch_op._opoverload
    assert (spec.onnx_domain, spec.plugin_namespace, spec.plugin_version) == (NAMESPACE, NAMESPACE, "1")
    assert spec.plugin_name == spec.onnx_op_type


@pytest.mark.parametrize("op,case", [
    pytest.param(op, case, id=f"{op.name}-{case.name}")
    for op in CUSTOM_NODE_OPS for case in op.spec.sample_cases()[:1] + [op.spec.gradcheck_case()]
])
def test_onnx_node_carries_spec_attributes_and_a_function_body(op, case):
    inputs = case.inputs()
    model = op_model(op, case.attrs, tuple(t is not None for t in inputs))
    (node,) = custom_nodes(model.graph)
    assert (node.domain, node.op_type) == (NAMESPACE, op.spec.onnx_op_type)
    attrs = node_attrs(node)
    assert sorted(attrs) == sorted([a.name for a in op.spec.attrs] + list(PLUGIN_ATTRS))
    assert attrs["plugin_version"] == op.spec.plugin_version
    assert attrs["plugin_namespace"] == op.spec.plugin_namespace
    for a in op.spec.attrs:
        assert attrs[a.name] == pytest.approx(case.attrs[a.name]) and isinstance(attrs[a.name], a.kind)
    (function,) = [f for f in model.functions if (f.domain, f.name, f.overload) == (node.domain, node.op_type, node.overload)]
    assert sorted(function.attribute) == sorted(attrs)
    assert list(function.input) == [t.name for t, x in zip(op.spec.inputs, inputs) if x is not None]
    assert list(function.output) == [op.spec.output.name]
    assert not any(n.domain == NAMESPACE for n in function.node), "a body must use standard ops only"


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in CUSTOM_NODE_OPS])
def test_every_function_body_overload_is_distinct(op):
    keys = [(f.domain, f.name, f.overload) for f in op.onnx_functions()]
    assert len(keys) == len(set(keys))
    assert {f.name for f in op.onnx_functions()} == {op.spec.onnx_op_type}


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in OPS if op.standard_onnx is not None])
def test_a_standard_node_op_exports_as_that_node_and_nothing_of_ours(op):
    """The exporter writes the standard node (no vfi:: node, no function body), and its
    one-node model is the same node; both run against the reference in the tests above."""
    from vfi.export.onnx import export_module

    case = op.spec.sample_cases()[0]
    inputs = case.inputs()

    class One(torch.nn.Module):
        def forward(self, *tensors):
            return op.function(*tensors, **case.attrs)

    given = [t for t in inputs if t is not None]
    names = [s.name for s, t in zip(op.spec.inputs, inputs) if t is not None]
    exported = export_module(One().eval(), tuple(given), names, ["output"], None)
    assert [n.op_type for n in exported.graph.node if n.domain in ("", "ai.onnx")].count(op.spec.onnx_op_type) == 1
    assert not list(custom_nodes(exported.graph)) and not exported.functions
    (node,) = op_model(op, case.attrs, tuple(t is not None for t in inputs)).graph.node
    assert (node.domain, node.op_type) == ("", op.spec.onnx_op_type)
    assert not op.native  # no kernel or plugin of ours: the op table says so


def test_every_model_card_names_registered_ops():
    from vfi.models import MODELS

    names = {op.name for op in OPS}
    assert {name: card.ops for name, card in MODELS.items() if not set(card.ops) <= names} == {}
    assert MODELS["dsfn_net"].ops == ("deform_conv",)
