// The plugin library's shared code and entry points.
//
// TensorRT finds the creators in two ways, and both must work:
// * IPluginRegistry::loadLibrary (TensorRT Python `load_library`, trtexec --dynamicPlugins, engines
//   that serialise the library) dlopens the library and registers what getCreators() returns.
// * A plain dlopen (Polygraphy --plugins and ctypes.CDLL, trtexec --staticPlugins) registers
//   nothing by itself, so the library registers its creators when it is loaded.
// loadLibrary refuses creators that are registered already, so getCreators() withdraws the
// load-time registration first and TensorRT registers them again under the library's handle.
#include "vfi_plugin.h"

#include <cstdio>
#include <mutex>

#include "vfi_ops.inc.h"

namespace vfi::trt
{

#define VFI_OP(op) IPluginCreatorV3One& op##_plugin_creator();
VFI_OPS(VFI_OP)
#undef VFI_OP

namespace
{

std::mutex gLoggerMutex;
ILoggerFinder* gLoggerFinder = nullptr;

IPluginCreatorInterface* const* creators(int32_t& count)
{
#define VFI_OP(op) &op##_plugin_creator(),
    static IPluginCreatorInterface* const list[] = {VFI_OPS(VFI_OP)};
#undef VFI_OP
    count = static_cast<int32_t>(sizeof(list) / sizeof(list[0]));
    return list;
}

class LoadTimeRegistration
{
public:
    LoadTimeRegistration()
    {
        int32_t count = 0;
        IPluginCreatorInterface* const* list = creators(count);
        for (int32_t i = 0; i < count; ++i)
            mRegistered.push_back(getPluginRegistry()->registerCreator(*list[i], kNamespace) ? list[i] : nullptr);
    }

    void withdraw()
    {
        std::lock_guard<std::mutex> lock(mMutex);
        for (IPluginCreatorInterface*& creator : mRegistered)
        {
            if (creator != nullptr)
                getPluginRegistry()->deregisterCreator(*creator);
            creator = nullptr;
        }
    }

private:
    std::mutex mMutex;
    std::vector<IPluginCreatorInterface*> mRegistered;
};

LoadTimeRegistration gLoadTimeRegistration;

void require(bool condition, PluginField const& field, char const* expected)
{
    if (!condition)
        throw std::invalid_argument(std::string("attribute '") + (field.name ? field.name : "") + "' must be "
            + expected + ", got PluginFieldType " + std::to_string(static_cast<int32_t>(field.type)) + " of length "
            + std::to_string(field.length));
}

} // namespace

void log(ILogger::Severity severity, std::string const& message) noexcept
{
    ILogger* logger = nullptr;
    {
        std::lock_guard<std::mutex> lock(gLoggerMutex);
        if (gLoggerFinder != nullptr)
            logger = gLoggerFinder->findLogger();
    }
    if (logger == nullptr)
        logger = getLogger();
    if (logger != nullptr)
        logger->log(severity, message.c_str());
    else
        std::fprintf(stderr, "%s\n", message.c_str());
}

void logError(char const* plugin, char const* message) noexcept
{
    try
    {
        log(ILogger::Severity::kERROR, std::string(kNamespace) + "::" + plugin + ": " + message);
    }
    catch (...)
    {
        std::fprintf(stderr, "%s::%s: %s\n", kNamespace, plugin, message);
    }
}

std::string readString(PluginField const& field)
{
    require(field.type == PluginFieldType::kCHAR && field.data != nullptr && field.length >= 0, field,
        "a string (PluginFieldType::kCHAR)");
    auto const* text = static_cast<char const*>(field.data);
    return std::string(text, strnlen(text, static_cast<size_t>(field.length)));
}

float readFloat32(PluginField const& field)
{
    require(field.type == PluginFieldType::kFLOAT32 && field.data != nullptr && field.length == 1, field,
        "one float (PluginFieldType::kFLOAT32)");
    return *static_cast<float const*>(field.data);
}

int32_t readInt32(PluginField const& field)
{
    require(field.type == PluginFieldType::kINT32 && field.data != nullptr && field.length == 1, field,
        "one int (PluginFieldType::kINT32)");
    return *static_cast<int32_t const*>(field.data);
}

void acceptIdentityField(PluginField const& field)
{
    if (!named(field, "plugin_version") && !named(field, "plugin_namespace"))
        throw std::invalid_argument(std::string("unknown attribute '") + (field.name ? field.name : "") + "'");
}

} // namespace vfi::trt

// Exported explicitly: TENSORRTAPI is empty outside TensorRT's own build (NvInferRuntimeBase.h gives
// it default visibility only under TENSORRT_BUILD_LIB), and the library hides everything else.
#define VFI_PLUGIN_ENTRY_POINT extern "C" __attribute__((visibility("default")))

VFI_PLUGIN_ENTRY_POINT void setLoggerFinder(nvinfer1::ILoggerFinder* finder)
{
    std::lock_guard<std::mutex> lock(vfi::trt::gLoggerMutex);
    vfi::trt::gLoggerFinder = finder;
}

VFI_PLUGIN_ENTRY_POINT nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators)
{
    vfi::trt::gLoadTimeRegistration.withdraw();
    return vfi::trt::creators(nbCreators);
}
