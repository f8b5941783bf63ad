#include "case_file.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vfi_case
{
namespace
{

std::string folderOf(std::string const& path)
{
    size_t const slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

[[noreturn]] void fail(std::string const& path, int line, std::string const& message)
{
    throw std::runtime_error(path + ":" + std::to_string(line) + ": " + message);
}

std::unique_ptr<unsigned char[]> allocate(size_t bytes)
{
    return bytes > 0 ? std::unique_ptr<unsigned char[]>(new unsigned char[bytes]) : nullptr;
}

void readShape(std::istringstream& fields, Tensor& tensor, std::string const& path, int line)
{
    for (int64_t& size : tensor.shape)
        if (!(fields >> size) || size < 0)
            fail(path, line, "expected four non-negative sizes");
}

} // namespace

Attribute const* Case::attribute(std::string const& name) const
{
    for (Attribute const& a : attributes)
        if (a.name == name)
            return &a;
    return nullptr;
}

std::vector<void const*> Case::inputPointers() const
{
    std::vector<void const*> pointers;
    for (Tensor const& t : inputs)
        pointers.push_back(t.data.get());
    return pointers;
}

std::vector<int64_t> Case::shapes() const
{
    std::vector<int64_t> all;
    for (Tensor const& t : inputs)
        all.insert(all.end(), t.shape, t.shape + 4);
    all.insert(all.end(), output.shape, output.shape + 4);
    return all;
}

Case readCase(std::string const& path)
{
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error(path + ": cannot open the case file");
    Case c;
    c.path = path;
    std::string const folder = folderOf(path);
    std::string text;
    int line = 0;
    bool haveOutput = false;
    while (std::getline(in, text))
    {
        ++line;
        std::istringstream fields(text);
        std::string record;
        if (!(fields >> record))
            continue;
        if (record == "op")
            fields >> c.op;
        else if (record == "dtype")
        {
            fields >> c.dtype;
            if (c.dtype != "f32" && c.dtype != "f16")
                fail(path, line, "dtype must be f32 or f16, got '" + c.dtype + "'");
        }
        else if (record == "attr")
        {
            Attribute a;
            if (!(fields >> a.name >> a.kind >> a.text))
                fail(path, line, "expected: attr <name> <s|f|i> <value>");
            if (a.kind == 'f')
                a.real = std::strtof(a.text.c_str(), nullptr);
            else if (a.kind == 'i')
                a.integer = std::strtoll(a.text.c_str(), nullptr, 10);
            else if (a.kind != 's')
                fail(path, line, "attribute kind must be s, f or i");
            c.attributes.push_back(a);
        }
        else if (record == "input" || record == "output")
        {
            Tensor t;
            if (record == "input" && !(fields >> t.name))
                fail(path, line, "expected: input <name> ...");
            std::string word;
            std::streampos const at = fields.tellg();
            if (record == "input" && fields >> word && word == "absent")
            {
                c.inputs.push_back(std::move(t));
                continue;
            }
            fields.clear();
            fields.seekg(at);
            t.present = true;
            readShape(fields, t, path, line);
            if (!(fields >> t.file))
                fail(path, line, "expected a data file name or 'none'");
            if (t.file == "none")
                t.file.clear();
            if (record == "output")
            {
                c.output = std::move(t);
                haveOutput = true;
            }
            else
                c.inputs.push_back(std::move(t));
        }
        else
            fail(path, line, "unknown record '" + record + "'");
    }
    if (c.op.empty() || c.dtype.empty() || !haveOutput)
        throw std::runtime_error(path + ": a case needs op, dtype and output records");
    for (Tensor& t : c.inputs)
    {
        if (!t.present || t.file.empty())
            continue;
        size_t const bytes = static_cast<size_t>(t.elements()) * c.elementBytes();
        std::ifstream data(folder + t.file, std::ios::binary | std::ios::ate);
        if (!data || static_cast<size_t>(data.tellg()) != bytes)
            throw std::runtime_error(folder + t.file + ": expected " + std::to_string(bytes) + " bytes for input "
                + t.name);
        data.seekg(0);
        t.data = allocate(bytes);
        data.read(reinterpret_cast<char*>(t.data.get()), static_cast<std::streamsize>(bytes));
    }
    size_t const outputBytes = c.output.file.empty() ? 0 : static_cast<size_t>(c.output.elements()) * c.elementBytes();
    c.output.data = allocate(outputBytes);
    if (outputBytes > 0)
        std::memset(c.output.data.get(), 0xFF, outputBytes);
    return c;
}

void writeOutput(Case const& c)
{
    if (c.output.file.empty())
        return;
    std::string const file = folderOf(c.path) + c.output.file;
    std::ofstream out(file, std::ios::binary);
    size_t const bytes = static_cast<size_t>(c.output.elements()) * c.elementBytes();
    out.write(reinterpret_cast<char const*>(c.output.data.get()), static_cast<std::streamsize>(bytes));
    if (!out)
        throw std::runtime_error(file + ": cannot write the output");
}

} // namespace vfi_case
