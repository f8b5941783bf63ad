// sepconv arithmetic (OPS.md "sepconv"), shared by the CUDA kernels and the CPU harness.
//
// out[n,c,y,x] = sum_i vertical[n,i,y,x] * (sum_j input[n,c,y+i,x+j] * horizontal[n,j,y,x]):
// for each vertical tap the K horizontal products are summed in fp32, then weighted and added.
// The functions take the window and the taps as pointers with strides, so the same code reads
// global memory (CPU) or shared-memory tiles (GPU).
#pragma once

#include "vfi_common.cuh"

namespace vfi
{

struct SepconvProblem
{
    int batch, channels, taps, height, width, in_height, in_width;
};

// nullptr when the shapes fit the op (and *problem is filled in), else what is wrong.
inline char const* sepconv_check(
    Shape4 input, Shape4 vertical, Shape4 horizontal, Shape4 output, SepconvProblem* problem)
{
    if (!vertical.fits())
        return "sepconv: vertical must have shape [N,K,H,W] with non-negative sizes and fewer than 2^31 elements";
    if (vertical.c < 1)
        return "sepconv: vertical must have shape [N,K,H,W] with K >= 1";
    if (horizontal != vertical)
        return "sepconv: horizontal must have the shape [N,K,H,W] of vertical";
    if (!input.fits())
        return "sepconv: input must have shape [N,C,H+K-1,W+K-1] with non-negative sizes and fewer than 2^31 elements";
    if (input.n != vertical.n || input.h != vertical.h + vertical.c - 1 || input.w != vertical.w + vertical.c - 1)
        return "sepconv: input must have shape [N,C,H+K-1,W+K-1] for kernels [N,K,H,W]";
    if (output != Shape4{input.n, input.c, vertical.h, vertical.w})
        return "sepconv: output must have shape [N,C,H,W]";
    *problem = SepconvProblem{static_cast<int>(input.n), static_cast<int>(input.c), static_cast<int>(vertical.c),
        static_cast<int>(vertical.h), static_cast<int>(vertical.w), static_cast<int>(input.h),
        static_cast<int>(input.w)};
    return nullptr;
}

// One horizontal pass: sum_j row[j] * horizontal[j * stride].
template <typename In, typename Tap>
VFI_HOST_DEVICE float sepconv_row(In const* row, Tap const* horizontal, int stride, int taps)
{
    float sum = 0.0f;
    for (int j = 0; j < taps; ++j)
        sum += to_float(row[j]) * to_float(horizontal[j * stride]);
    return sum;
}

// One output value. `window` points at input[n,c,y,x], the top-left of the K x K window, whose
// rows are `row_stride` apart; tap i of `vertical` is at vertical[i * vertical_stride].
template <typename In, typename VerticalTap, typename HorizontalTap>
VFI_HOST_DEVICE float sepconv_pixel(In const* window, int row_stride, VerticalTap const* vertical, int vertical_stride,
    HorizontalTap const* horizontal, int horizontal_stride, int taps)
{
    float out = 0.0f;
    for (int i = 0; i < taps; ++i)
        out += sepconv_row(window + i * row_stride, horizontal, horizontal_stride, taps) * to_float(vertical[i * vertical_stride]);
    return out;
}

#if defined(VFI_WITH_CUDA)
// Runs the op on `stream`; cudaErrorInvalidValue when the arguments do not fit.
template <typename T>
cudaError_t launch_sepconv(T const* input, Shape4 input_shape, T const* vertical, Shape4 vertical_shape,
    T const* horizontal, Shape4 horizontal_shape, T* output, Shape4 output_shape, cudaStream_t stream);
#endif

} // namespace vfi
