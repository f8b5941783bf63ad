// CPU harness: the softsplat arithmetic of softsplat_kernel.cuh in plain loops, behind the C ABI
// of vfi_abi.h, so that tests check the kernel arithmetic against the reference without a GPU.
#include <new>
#include <vector>

#include "softsplat_kernel.cuh"
#include "vfi_abi.h"

namespace
{

using namespace vfi;

template <typename T>
int softsplat_host(void const* const* inputs, int64_t const* shapes, void* output, char const* mode_name, float eps,
    char const** error)
{
    SoftsplatMode mode;
    if (char const* message = softsplat_parse_mode(mode_name, &mode))
        return fail(error, kInvalidArgument, message);
    Shape4 const metric_shape = shape_at(shapes, 2);
    SoftsplatProblem p;
    if (char const* message = softsplat_check(shape_at(shapes, 0), shape_at(shapes, 1),
            inputs[2] != nullptr ? &metric_shape : nullptr, shape_at(shapes, 3), mode, eps, &p))
        return fail(error, kInvalidArgument, message);
    if (shape_at(shapes, 3).empty())
        return kOk;
    if (inputs[0] == nullptr || inputs[1] == nullptr || output == nullptr)
        return fail(error, kInvalidArgument, "softsplat: input, flow and output must not be null");
    auto const* input = static_cast<T const*>(inputs[0]);
    auto const* flow = static_cast<T const*>(inputs[1]);
    auto const* metric = static_cast<T const*>(inputs[2]);
    try
    {
        std::vector<float> accumulator(softsplat_workspace_bytes(p) / sizeof(float), 0.0f);
        for (int n = 0; n < p.batch; ++n)
            for (int y = 0; y < p.height; ++y)
                for (int x = 0; x < p.width; ++x)
                    softsplat_source(input, flow, metric, accumulator.data(), p, n, y, x, PlainAdd{});
        for (int n = 0; n < p.batch; ++n)
            for (int pixel = 0; pixel < p.height * p.width; ++pixel)
                softsplat_normalise(accumulator.data(), static_cast<T*>(output), p, n, pixel);
    }
    catch (std::bad_alloc const&)
    {
        return fail(error, kOutOfMemory, "softsplat: out of memory for the fp32 accumulator");
    }
    return kOk;
}

} // namespace

extern "C" int vfi_softsplat_host_f32(void const* const* inputs, int64_t const* shapes, void* output,
    char const* mode, float eps, char const** error)
{
    return softsplat_host<float>(inputs, shapes, output, mode, eps, error);
}

extern "C" int vfi_softsplat_host_f16(void const* const* inputs, int64_t const* shapes, void* output,
    char const* mode, float eps, char const** error)
{
    return softsplat_host<vfi::half>(inputs, shapes, output, mode, eps, error);
}
