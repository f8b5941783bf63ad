// One op invocation described in a text file, for the test drivers that run the ops outside
// Python (the emulated kernels under sanitizers, the TensorRT plugin lifecycle driver). Written
// by vfi/plugins/emulated.py; one record per line, paths relative to the case file:
//
//   op <name>                                  e.g. softsplat
//   dtype <f32|f16>
//   attr <name> <s|f|i> <value>                in the op's spec order
//   input <name> <n> <c> <h> <w> <file|none>   raw little-endian elements; none: no data (nullptr)
//   input <name> absent                        an absent optional input
//   output <n> <c> <h> <w> <file|none>         written by the driver; none: no buffer (nullptr)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vfi_case
{

struct Attribute
{
    std::string name;
    char kind; // 's', 'f' or 'i'
    std::string text;
    float real = 0.0f;
    int64_t integer = 0;
};

struct Tensor
{
    std::string name;
    bool present = false;
    int64_t shape[4] = {0, 0, 0, 0};
    std::string file;                  // empty: no data
    std::unique_ptr<unsigned char[]> data; // exactly bytes() long, nullptr when empty or without data

    int64_t elements() const { return shape[0] * shape[1] * shape[2] * shape[3]; }
};

struct Case
{
    std::string path;
    std::string op;
    std::string dtype;
    std::vector<Attribute> attributes;
    std::vector<Tensor> inputs;
    Tensor output;

    size_t elementBytes() const { return dtype == "f16" ? 2 : 4; }
    Attribute const* attribute(std::string const& name) const;
    // inputs: one pointer per input (nullptr when absent or without data); shapes: 4 per input,
    // then 4 for the output, as in vfi_abi.h.
    std::vector<void const*> inputPointers() const;
    std::vector<int64_t> shapes() const;
};

// Reads the case and its input files; the output buffer is allocated and filled with 0xFF bytes
// (NaN), so an element the code under test never writes shows up. Throws std::runtime_error
// naming the file and the problem.
Case readCase(std::string const& path);
// Writes the output buffer to its file.
void writeOutput(Case const& c);

} // namespace vfi_case
