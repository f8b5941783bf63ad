// softsplat arithmetic (OPS.md "softsplat"), shared by the CUDA kernels and the CPU harness.
//
// Splatting runs once per source pixel: its target, bilinear weights and importance are computed
// once and its C values (plus the importance, for the normalised modes) are added to the four
// corners of an fp32 accumulator [N, C', H, W]. A second pass divides by the importance channel
// and writes the I/O type. How additions reach memory is the caller's policy: atomics on the GPU,
// plain adds on the CPU.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>

#include "vfi_common.cuh"

namespace vfi
{

enum class SoftsplatMode : int32_t
{
    kSum = 0,
    kAvg = 1,
    kLinear = 2,
    kSoft = 3,
};

constexpr char const* kSoftsplatModeNames[] = {"sum", "avg", "linear", "soft"};

inline bool softsplat_mode_from_name(char const* name, SoftsplatMode* mode)
{
    for (int32_t i = 0; i < 4; ++i)
    {
        if (std::strcmp(name, kSoftsplatModeNames[i]) == 0)
        {
            *mode = static_cast<SoftsplatMode>(i);
            return true;
        }
    }
    return false;
}

// nullptr when `name` names a mode (and *mode is set), else what is wrong.
inline char const* softsplat_parse_mode(char const* name, SoftsplatMode* mode)
{
    if (name == nullptr || !softsplat_mode_from_name(name, mode))
        return "softsplat: mode must be one of sum, avg, linear, soft";
    return nullptr;
}

inline char const* softsplat_mode_name(SoftsplatMode mode)
{
    return kSoftsplatModeNames[static_cast<int32_t>(mode)];
}

VFI_HOST_DEVICE bool softsplat_uses_metric(SoftsplatMode mode)
{
    return mode == SoftsplatMode::kLinear || mode == SoftsplatMode::kSoft;
}

struct SoftsplatProblem
{
    int batch, channels, height, width;
    SoftsplatMode mode;
    float eps;

    VFI_HOST_DEVICE bool normalised() const { return mode != SoftsplatMode::kSum; }
    // The normalised modes splat one more channel: the importance, last.
    VFI_HOST_DEVICE int accumulator_channels() const { return channels + (normalised() ? 1 : 0); }
};

// The fp32 accumulator's size in bytes.
inline size_t softsplat_workspace_bytes(SoftsplatProblem const& p)
{
    return sizeof(float) * static_cast<size_t>(p.batch) * p.accumulator_channels() * p.height * p.width;
}

// Enough for any mode with an input of shape `input`.
inline size_t softsplat_workspace_bytes(Shape4 input)
{
    return input.nonnegative() ? sizeof(float) * static_cast<size_t>(input.n) * (input.c + 1) * input.h * input.w : 0;
}

// nullptr when the shapes fit the op (and *problem is filled in), else what is wrong.
// `metric` is nullptr when the tensor is absent.
inline char const* softsplat_check(Shape4 input, Shape4 flow, Shape4 const* metric, Shape4 output,
    SoftsplatMode mode, float eps, SoftsplatProblem* problem)
{
    if (!input.fits())
        return "softsplat: input must have shape [N,C,H,W] with non-negative sizes and fewer than 2^31 elements";
    if (flow != Shape4{input.n, 2, input.h, input.w})
        return "softsplat: flow must have shape [N,2,H,W] with the input's N, H and W";
    // With C = 1 the flow is the largest tensor: its offsets must fit too.
    if (!flow.fits())
        return "softsplat: flow [N,2,H,W] would have 2^31 elements or more";
    if (softsplat_uses_metric(mode))
    {
        if (metric == nullptr)
            return "softsplat: metric [N,1,H,W] is required for modes linear and soft";
        if (*metric != Shape4{input.n, 1, input.h, input.w})
            return "softsplat: metric must have shape [N,1,H,W] with the input's N, H and W";
    }
    else if (metric != nullptr)
    {
        return "softsplat: metric must be absent for modes sum and avg";
    }
    if (output != input)
        return "softsplat: output must have shape [N,C,H,W], the input's";
    *problem = SoftsplatProblem{static_cast<int>(input.n), static_cast<int>(input.c), static_cast<int>(input.h),
        static_cast<int>(input.w), mode, eps};
    if (!Shape4{input.n, problem->accumulator_channels(), input.h, input.w}.fits())
        return "softsplat: the fp32 accumulator [N,C+1,H,W] would exceed 2^31 elements";
    return nullptr;
}

// Where one source lands: the top-left corner (x0, y0) of its bilinear footprint and the weights
// of the corners (x0,y0), (x0+1,y0), (x0,y0+1), (x0+1,y0+1).
struct SplatFootprint
{
    int x0, y0;
    float weight[4];
};

// False when the source contributes nothing: a target whose four corners all lie outside the
// frame, or a non-finite one (every comparison with NaN is false). Tested in float, before the int
// conversion, so any magnitude is safe.
VFI_HOST_DEVICE bool softsplat_footprint(int x, int y, float u, float v, int width, int height, SplatFootprint* f)
{
    float const tx = static_cast<float>(x) + u;
    float const ty = static_cast<float>(y) + v;
    if (!(tx >= -1.0f && tx < static_cast<float>(width) && ty >= -1.0f && ty < static_cast<float>(height)))
        return false;
    float const left = floorf(tx);
    float const top = floorf(ty);
    float const fx = tx - left;
    float const fy = ty - top;
    f->x0 = static_cast<int>(left);
    f->y0 = static_cast<int>(top);
    f->weight[0] = (1.0f - fx) * (1.0f - fy);
    f->weight[1] = fx * (1.0f - fy);
    f->weight[2] = (1.0f - fx) * fy;
    f->weight[3] = fx * fy;
    return true;
}

// The factor a source's values are splatted with: 1 (sum, avg), Z (linear), exp(Z) (soft).
VFI_HOST_DEVICE float softsplat_importance(SoftsplatMode mode, float metric)
{
    switch (mode)
    {
    case SoftsplatMode::kLinear: return metric;
    case SoftsplatMode::kSoft: return expf(metric);
    default: return 1.0f;
    }
}

// Adds `value` times each corner's weight to the corners inside the frame of one accumulator plane.
// x0 is in [-1, width-1] and y0 in [-1, height-1] (softsplat_footprint).
template <typename Add>
VFI_HOST_DEVICE void softsplat_scatter(
    float* plane, SplatFootprint const& f, int width, int height, float value, Add const& add)
{
    bool const left = f.x0 >= 0;
    bool const right = f.x0 + 1 < width;
    if (f.y0 >= 0)
    {
        float* row = plane + f.y0 * width + f.x0;
        if (left)
            add(row, value * f.weight[0]);
        if (right)
            add(row + 1, value * f.weight[1]);
    }
    if (f.y0 + 1 < height)
    {
        float* row = plane + (f.y0 + 1) * width + f.x0;
        if (left)
            add(row, value * f.weight[2]);
        if (right)
            add(row + 1, value * f.weight[3]);
    }
}

// Splats source pixel (n, y, x) into `accumulator` [N, C', H, W], which starts zeroed.
template <typename T, typename Add>
VFI_HOST_DEVICE void softsplat_source(T const* input, T const* flow, T const* metric, float* accumulator,
    SoftsplatProblem const& p, int n, int y, int x, Add const& add)
{
    int const plane = p.height * p.width;
    int const pixel = y * p.width + x;
    float const u = to_float(flow[(2 * n) * plane + pixel]);
    float const v = to_float(flow[(2 * n + 1) * plane + pixel]);
    SplatFootprint footprint;
    if (!softsplat_footprint(x, y, u, v, p.width, p.height, &footprint))
        return;
    float const importance
        = softsplat_importance(p.mode, softsplat_uses_metric(p.mode) ? to_float(metric[n * plane + pixel]) : 0.0f);
    T const* source = input + (n * p.channels) * plane + pixel;
    float* target = accumulator + (n * p.accumulator_channels()) * plane;
    for (int c = 0; c < p.channels; ++c)
    {
        softsplat_scatter(target + c * plane, footprint, p.width, p.height, to_float(source[c * plane]) * importance, add);
    }
    if (p.normalised())
        softsplat_scatter(target + p.channels * plane, footprint, p.width, p.height, importance, add);
}

// Writes output pixel (n, pixel) from the accumulator: A / (B + eps) for the normalised modes.
// A division per channel, not one reciprocal per pixel: 1 / (B + eps) overflows to infinity where
// |B + eps| < 2^-126 while A / (B + eps) stays finite.
template <typename T>
VFI_HOST_DEVICE void softsplat_normalise(
    float const* accumulator, T* output, SoftsplatProblem const& p, int n, int pixel)
{
    int const plane = p.height * p.width;
    float const* splatted = accumulator + (n * p.accumulator_channels()) * plane + pixel;
    T* out = output + (n * p.channels) * plane + pixel;
    float const denominator = p.normalised() ? splatted[p.channels * plane] + p.eps : 1.0f;
    for (int c = 0; c < p.channels; ++c)
        out[c * plane] = from_float<T>(p.normalised() ? splatted[c * plane] / denominator : splatted[c * plane]);
}

// The CPU's addition policy of softsplat_scatter (the GPU's, atomic, is in softsplat_kernel.cu).
struct PlainAdd
{
    VFI_HOST_DEVICE void operator()(float* address, float value) const { *address += value; }
};

#if defined(VFI_WITH_CUDA)
// Zeroes `workspace` (softsplat_workspace_bytes) and runs both passes on `stream`. `metric` is
// nullptr for modes sum and avg. cudaErrorInvalidValue when the arguments do not fit.
template <typename T>
cudaError_t launch_softsplat(T const* input, Shape4 input_shape, T const* flow, Shape4 flow_shape, T const* metric,
    Shape4 metric_shape, T* output, Shape4 output_shape, SoftsplatMode mode, float eps, void* workspace,
    size_t workspace_bytes, cudaStream_t stream);
#endif

} // namespace vfi
