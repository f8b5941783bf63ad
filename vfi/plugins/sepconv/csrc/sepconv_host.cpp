// CPU harness: the sepconv arithmetic of sepconv_kernel.cuh in plain loops, behind the C ABI of
// vfi_abi.h, so that tests check the kernel arithmetic against the reference without a GPU.
#include <new>
#include <vector>

#include "sepconv_kernel.cuh"
#include "vfi_abi.h"

namespace
{

using namespace vfi;

template <typename T>
int sepconv_host(void const* const* inputs, int64_t const* shapes, void* output, char const** error)
{
    SepconvProblem p;
    if (char const* message
        = sepconv_check(shape_at(shapes, 0), shape_at(shapes, 1), shape_at(shapes, 2), shape_at(shapes, 3), &p))
        return fail(error, kInvalidArgument, message);
    if (shape_at(shapes, 3).empty())
        return kOk;
    if (inputs[0] == nullptr || inputs[1] == nullptr || inputs[2] == nullptr || output == nullptr)
        return fail(error, kInvalidArgument, "sepconv: input, vertical, horizontal and output must not be null");
    auto const* input = static_cast<T const*>(inputs[0]);
    auto const* vertical = static_cast<T const*>(inputs[1]);
    auto const* horizontal = static_cast<T const*>(inputs[2]);
    auto* out = static_cast<T*>(output);
    int const plane = p.height * p.width;
    try
    {
        // A pixel's taps are gathered once (they are plane-strided in memory) and serve all channels.
        std::vector<float> vertical_taps(p.taps), horizontal_taps(p.taps);
        for (int n = 0; n < p.batch; ++n)
            for (int y = 0; y < p.height; ++y)
                for (int x = 0; x < p.width; ++x)
                {
                    int const pixel = y * p.width + x;
                    for (int i = 0; i < p.taps; ++i)
                    {
                        vertical_taps[i] = to_float(vertical[(n * p.taps + i) * plane + pixel]);
                        horizontal_taps[i] = to_float(horizontal[(n * p.taps + i) * plane + pixel]);
                    }
                    for (int c = 0; c < p.channels; ++c)
                    {
                        T const* window = input + ((n * p.channels + c) * p.in_height + y) * p.in_width + x;
                        out[(n * p.channels + c) * plane + pixel] = from_float<T>(sepconv_pixel(
                            window, p.in_width, vertical_taps.data(), 1, horizontal_taps.data(), 1, p.taps));
                    }
                }
    }
    catch (std::bad_alloc const&)
    {
        return fail(error, kOutOfMemory, "sepconv: out of memory");
    }
    return kOk;
}

} // namespace

extern "C" int vfi_sepconv_host_f32(void const* const* inputs, int64_t const* shapes, void* output, char const** error)
{
    return sepconv_host<float>(inputs, shapes, output, error);
}

extern "C" int vfi_sepconv_host_f16(void const* const* inputs, int64_t const* shapes, void* output, char const** error)
{
    return sepconv_host<vfi::half>(inputs, shapes, output, error);
}
