// vfi_cuda_emulated: runs the ops' CUDA kernels, compiled as C++ against cuda_emulation.h, on
// the cases given (case_file.h), through the same C ABI the CUDA test library exports
// (vfi_<op>_cuda_<f32|f16>, vfi_abi.h), so the launchers compute the launch configurations as on
// a GPU. Built with AddressSanitizer and UndefinedBehaviorSanitizer (see README.md).
//
//   vfi_cuda_emulated [--schedule concurrent|serial] CASE...
//
// Prints one line per case, "<case>\tok" or "<case>\terror\t<message>", and writes each output.
// Exits 0 when every case could be read and run (an op refusing its arguments is a result, not a
// failure), 2 on a bad command line or case file; a sanitizer report aborts with its own status.
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "case_file.h"
#include "cuda_emulation.h"

namespace
{

using vfi_case::Attribute;
using vfi_case::Case;

struct Call
{
    void* symbol;
    Case& c;
    char const* error = nullptr;
};

// The C ABI function with these attribute types, called: (inputs, shapes, output, attrs...,
// stream, error).
template <typename... Attrs>
int invoke(Call& call, Attrs... attrs)
{
    using Function = int (*)(void const* const*, int64_t const*, void*, Attrs..., cudaStream_t, char const**);
    std::vector<void const*> const inputs = call.c.inputPointers();
    std::vector<int64_t> const shapes = call.c.shapes();
    return reinterpret_cast<Function>(call.symbol)(
        inputs.data(), shapes.data(), call.c.output.data.get(), attrs..., nullptr, &call.error);
}

// Appends the case's attributes, in order and with their C types, then invokes: every op's
// signature with up to three string/float/int attributes, without code per op.
template <typename... Attrs>
int dispatch(Call& call, size_t next, Attrs... attrs)
{
    if (next == call.c.attributes.size())
        return invoke(call, attrs...);
    if constexpr (sizeof...(Attrs) < 3)
    {
        Attribute const& a = call.c.attributes[next];
        switch (a.kind)
        {
        case 's': return dispatch(call, next + 1, attrs..., a.text.c_str());
        case 'f': return dispatch(call, next + 1, attrs..., a.real);
        case 'i': return dispatch(call, next + 1, attrs..., a.integer);
        }
    }
    throw std::runtime_error(call.c.path + ": more than three attributes");
}

} // namespace

int main(int argc, char** argv)
{
    int first = 1;
    if (argc > 2 && std::strcmp(argv[1], "--schedule") == 0)
    {
        std::string const schedule = argv[2];
        if (schedule == "serial")
            vfi_emulation::set_schedule(vfi_emulation::Schedule::kSerial);
        else if (schedule != "concurrent")
        {
            std::fprintf(stderr, "vfi_cuda_emulated: --schedule must be concurrent or serial\n");
            return 2;
        }
        first = 3;
    }
    if (first >= argc)
    {
        std::fprintf(stderr, "usage: vfi_cuda_emulated [--schedule concurrent|serial] CASE...\n");
        return 2;
    }
    for (int i = first; i < argc; ++i)
    {
        try
        {
            Case c = vfi_case::readCase(argv[i]);
            std::string const name = "vfi_" + c.op + "_cuda_" + c.dtype;
            void* symbol = dlsym(RTLD_DEFAULT, name.c_str());
            if (symbol == nullptr)
                throw std::runtime_error(c.path + ": no emulated kernel " + name);
            Call call{symbol, c};
            int const status = dispatch(call, 0);
            // The launch errors' own messages are more precise than the runtime's generic one.
            std::string const detail = vfi_emulation::take_error_message();
            if (status != 0)
            {
                std::printf("%s\terror\t%s%s%s\n", argv[i], call.error ? call.error : "failed",
                    detail.empty() ? "" : ": ", detail.c_str());
                continue;
            }
            vfi_case::writeOutput(c);
            std::printf("%s\tok\n", argv[i]);
        }
        catch (std::exception const& e)
        {
            std::fprintf(stderr, "vfi_cuda_emulated: %s\n", e.what());
            return 2;
        }
    }
    return 0;
}
