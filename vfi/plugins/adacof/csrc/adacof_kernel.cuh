// adacof arithmetic (OPS.md "adacof"), shared by the CUDA kernels and the CPU harness.
//
// out[n,c,i,j] = sum over taps m = k*F + l of weight[n,m,i,j] * Samp(i + k*D + alpha, j + l*D + beta)
// with the official sampler: A = trunc(alpha) (toward zero), a = alpha - A (negative for negative
// fractional offsets), each corner index clamped on its own to the padded input. A tap's geometry
// (four corner offsets, four weights with the tap weight folded in) does not depend on the
// channel, so it is computed once and applied to every channel.
#pragma once

#include <cmath>

#include "vfi_common.cuh"

namespace vfi
{

struct AdacofProblem
{
    int batch, channels, size, dilation, height, width, in_height, in_width;

    VFI_HOST_DEVICE int taps() const { return size * size; }
};

// F for a square tap count F*F, else 0.
inline int64_t adacof_kernel_size(int64_t taps)
{
    int64_t size = 1;
    while ((size + 1) * (size + 1) <= taps)
        ++size;
    return taps >= 1 && size * size == taps ? size : 0;
}

// nullptr when the shapes fit the op (and *problem is filled in), else what is wrong.
inline char const* adacof_check(Shape4 input, Shape4 weight, Shape4 alpha, Shape4 beta, Shape4 output,
    int64_t dilation, AdacofProblem* problem)
{
    if (dilation < 1 || dilation > INT32_MAX)
        return "adacof: dilation must be an integer >= 1";
    if (!weight.fits())
        return "adacof: weight must have shape [N,F*F,H,W] with non-negative sizes and fewer than 2^31 elements";
    int64_t const size = adacof_kernel_size(weight.c);
    if (size == 0)
        return "adacof: weight must have shape [N,F*F,H,W] with a square channel count F*F";
    if (alpha != weight)
        return "adacof: alpha must have the shape [N,F*F,H,W] of weight";
    if (beta != weight)
        return "adacof: beta must have the shape [N,F*F,H,W] of weight";
    int64_t const pad = (size - 1) * dilation;
    if (!input.fits())
        return "adacof: input must have shape [N,C,H+(F-1)D,W+(F-1)D] with non-negative sizes and fewer than 2^31 elements";
    if (input.n != weight.n || input.h != weight.h + pad || input.w != weight.w + pad)
        return "adacof: input must have shape [N,C,H+(F-1)D,W+(F-1)D] for maps [N,F*F,H,W]";
    if (output != Shape4{input.n, input.c, weight.h, weight.w})
        return "adacof: output must have shape [N,C,H,W]";
    *problem = AdacofProblem{static_cast<int>(input.n), static_cast<int>(input.c), static_cast<int>(size),
        static_cast<int>(dilation), static_cast<int>(weight.h), static_cast<int>(weight.w), static_cast<int>(input.h),
        static_cast<int>(input.w)};
    return nullptr;
}

// One tap's sample: offsets of the corners (r0,c0), (r1,c0), (r0,c1), (r1,c1) in an input plane
// and their weights times the tap weight.
struct AdacofSample
{
    int offset[4];
    float weight[4];
};

// The sample of the tap whose unshifted position is (row, col) = (i + k*D, j + l*D).
VFI_HOST_DEVICE AdacofSample adacof_sample(
    int row, int col, float alpha, float beta, float tap_weight, int in_height, int in_width)
{
    float const whole_row = truncf(alpha);
    float const whole_col = truncf(beta);
    float const a = alpha - whole_row;
    float const b = beta - whole_col;
    // Clamped in float, before the int conversion, so that any offset magnitude is defined.
    float const top = whole_row + static_cast<float>(row);
    float const left = whole_col + static_cast<float>(col);
    float const last_row = static_cast<float>(in_height - 1);
    float const last_col = static_cast<float>(in_width - 1);
    int const r0 = static_cast<int>(fminf(fmaxf(top, 0.0f), last_row)) * in_width;
    int const r1 = static_cast<int>(fminf(fmaxf(top + 1.0f, 0.0f), last_row)) * in_width;
    int const c0 = static_cast<int>(fminf(fmaxf(left, 0.0f), last_col));
    int const c1 = static_cast<int>(fminf(fmaxf(left + 1.0f, 0.0f), last_col));
    AdacofSample s;
    s.offset[0] = r0 + c0;
    s.offset[1] = r1 + c0;
    s.offset[2] = r0 + c1;
    s.offset[3] = r1 + c1;
    s.weight[0] = (1.0f - a) * (1.0f - b) * tap_weight;
    s.weight[1] = a * (1.0f - b) * tap_weight;
    s.weight[2] = (1.0f - a) * b * tap_weight;
    s.weight[3] = a * b * tap_weight;
    return s;
}

// The tap's contribution to one channel; `plane` is that channel's [H_in, W_in] input plane.
template <typename T>
VFI_HOST_DEVICE float adacof_apply(T const* plane, AdacofSample const& s)
{
    return to_float(plane[s.offset[0]]) * s.weight[0] + to_float(plane[s.offset[1]]) * s.weight[1]
        + to_float(plane[s.offset[2]]) * s.weight[2] + to_float(plane[s.offset[3]]) * s.weight[3];
}

// The sample of tap (k, l) (kernel row, column) at output pixel (n, y, x); the maps are
// [N, F*F, H, W] with channel m = k*F + l.
template <typename T>
VFI_HOST_DEVICE AdacofSample adacof_tap(
    T const* weight, T const* alpha, T const* beta, AdacofProblem const& p, int n, int k, int l, int y, int x)
{
    int const map = ((n * p.taps() + k * p.size + l) * p.height + y) * p.width + x;
    return adacof_sample(y + k * p.dilation, x + l * p.dilation, to_float(alpha[map]), to_float(beta[map]),
        to_float(weight[map]), p.in_height, p.in_width);
}

#if defined(VFI_WITH_CUDA)
// Runs the op on `stream`; cudaErrorInvalidValue when the arguments do not fit.
template <typename T>
cudaError_t launch_adacof(T const* input, Shape4 input_shape, T const* weight, Shape4 weight_shape, T const* alpha,
    Shape4 alpha_shape, T const* beta, Shape4 beta_shape, T* output, Shape4 output_shape, int64_t dilation,
    cudaStream_t stream);
#endif

} // namespace vfi
