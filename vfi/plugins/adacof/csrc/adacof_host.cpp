// CPU harness: the adacof arithmetic of adacof_kernel.cuh in plain loops, behind the C ABI of
// vfi_abi.h, so that tests check the kernel arithmetic against the reference without a GPU.
#include <algorithm>
#include <new>
#include <vector>

#include "adacof_kernel.cuh"
#include "vfi_abi.h"

namespace
{

using namespace vfi;

template <typename T>
int adacof_host(void const* const* inputs, int64_t const* shapes, void* output, int64_t dilation, char const** error)
{
    AdacofProblem p;
    if (char const* message = adacof_check(shape_at(shapes, 0), shape_at(shapes, 1), shape_at(shapes, 2),
            shape_at(shapes, 3), shape_at(shapes, 4), dilation, &p))
        return fail(error, kInvalidArgument, message);
    if (shape_at(shapes, 4).empty())
        return kOk;
    if (inputs[0] == nullptr || inputs[1] == nullptr || inputs[2] == nullptr || inputs[3] == nullptr
        || output == nullptr)
        return fail(error, kInvalidArgument, "adacof: input, weight, alpha, beta and output must not be null");
    auto const* input = static_cast<T const*>(inputs[0]);
    auto const* weight = static_cast<T const*>(inputs[1]);
    auto const* alpha = static_cast<T const*>(inputs[2]);
    auto const* beta = static_cast<T const*>(inputs[3]);
    auto* out = static_cast<T*>(output);
    int const in_plane = p.in_height * p.in_width;
    int const plane = p.height * p.width;
    try
    {
        std::vector<float> sums(p.channels);
        for (int n = 0; n < p.batch; ++n)
            for (int y = 0; y < p.height; ++y)
                for (int x = 0; x < p.width; ++x)
                {
                    std::fill(sums.begin(), sums.end(), 0.0f);
                    for (int k = 0; k < p.size; ++k)
                        for (int l = 0; l < p.size; ++l)
                        {
                            AdacofSample const sample = adacof_tap(weight, alpha, beta, p, n, k, l, y, x);
                            for (int c = 0; c < p.channels; ++c)
                                sums[c] += adacof_apply(input + (n * p.channels + c) * in_plane, sample);
                        }
                    for (int c = 0; c < p.channels; ++c)
                        out[(n * p.channels + c) * plane + y * p.width + x] = from_float<T>(sums[c]);
                }
    }
    catch (std::bad_alloc const&)
    {
        return fail(error, kOutOfMemory, "adacof: out of memory");
    }
    return kOk;
}

} // namespace

extern "C" int vfi_adacof_host_f32(
    void const* const* inputs, int64_t const* shapes, void* output, int64_t dilation, char const** error)
{
    return adacof_host<float>(inputs, shapes, output, dilation, error);
}

extern "C" int vfi_adacof_host_f16(
    void const* const* inputs, int64_t const* shapes, void* output, int64_t dilation, char const** error)
{
    return adacof_host<vfi::half>(inputs, shapes, output, dilation, error);
}
