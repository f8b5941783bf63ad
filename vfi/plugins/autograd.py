"""Autograd for the custom torch ops, derived from their differentiable references."""

from __future__ import annotations

from typing import Callable

import torch


def register_reference_autograd(op, reference: Callable) -> None:
    """Register a backward for `op` that differentiates `reference` on the saved inputs.

    The custom ops are opaque to autograd (that is what keeps them one node in exported graphs),
    so their gradient comes from re-running the reference, which is written in differentiable
    PyTorch, and asking autograd for the vector-Jacobian product. The recomputation is the
    price of keeping the maths in one place.
    """

    def setup_context(ctx, inputs, output):
        ctx.is_tensor = [isinstance(x, torch.Tensor) for x in inputs]
        ctx.save_for_backward(*[x for x in inputs if isinstance(x, torch.Tensor)])
        ctx.others = [None if isinstance(x, torch.Tensor) else x for x in inputs]

    def backward(ctx, grad_output):
        saved = iter(ctx.saved_tensors)
        args = []
        wanted = []
        for is_tensor, other, needs in zip(ctx.is_tensor, ctx.others, ctx.needs_input_grad):
            if is_tensor:
                leaf = next(saved).detach().requires_grad_(needs)
                args.append(leaf)
                if needs:
                    wanted.append(leaf)
            else:
                args.append(other)
        with torch.enable_grad():
            output = reference(*args)
            grads = iter(torch.autograd.grad(output, wanted, grad_output, allow_unused=True))
        return tuple(next(grads) if needs else None for needs in ctx.needs_input_grad)

    op.register_autograd(backward, setup_context=setup_context)
