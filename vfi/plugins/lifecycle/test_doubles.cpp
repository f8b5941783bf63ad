#include "test_doubles.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <limits>

namespace vfi_lifecycle
{

using namespace nvinfer1;

namespace
{

char const* severityName(ILogger::Severity severity)
{
    switch (severity)
    {
    case ILogger::Severity::kINTERNAL_ERROR: return "INTERNAL_ERROR";
    case ILogger::Severity::kERROR: return "ERROR";
    case ILogger::Severity::kWARNING: return "WARNING";
    case ILogger::Severity::kINFO: return "INFO";
    case ILogger::Severity::kVERBOSE: return "VERBOSE";
    }
    return "?";
}

std::string text(char const* s)
{
    return s != nullptr ? std::string(s) : std::string("(null)");
}

} // namespace

void RecordingLogger::log(Severity severity, AsciiChar const* message) noexcept
{
    try
    {
        mMessages.push_back(LogMessage{severity, text(message)});
        std::fprintf(stderr, "[%s logger] %s: %s\n", mName, severityName(severity), text(message).c_str());
    }
    catch (...)
    {
        std::fprintf(stderr, "[%s logger] a message could not be recorded\n", mName);
    }
}

RecordingLogger& finderLogger()
{
    static RecordingLogger logger("setLoggerFinder");
    return logger;
}

RecordingLogger& globalLogger()
{
    static RecordingLogger logger("getLogger");
    return logger;
}

bool identify(IPluginCreatorInterface const& creator, CreatorIdentity& identity)
{
    InterfaceInfo const info = creator.getInterfaceInfo();
    if (info.kind == nullptr || std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") != 0)
        return false;
    auto const& v3 = static_cast<IPluginCreatorV3One const&>(creator);
    identity = CreatorIdentity{text(v3.getPluginName()), text(v3.getPluginVersion()), text(v3.getPluginNamespace())};
    return true;
}

// --- TestRegistry ---------------------------------------------------------------------------

TestRegistry& registry()
{
    static TestRegistry instance;
    return instance;
}

std::vector<std::string> TestRegistry::takeProblems()
{
    std::vector<std::string> problems;
    problems.swap(mProblems);
    return problems;
}

TestRegistry::Entry const* TestRegistry::find(
    std::string const& name, std::string const& version, std::string const& pluginNamespace) const
{
    for (Entry const& entry : mEntries)
        if (entry.name == name && entry.version == version && entry.pluginNamespace == pluginNamespace)
            return &entry;
    return nullptr;
}

bool TestRegistry::add(
    IPluginCreatorInterface& creator, std::string const& pluginNamespace, PluginLibraryHandle library)
{
    CreatorIdentity identity;
    if (!identify(creator, identity))
    {
        problem("a creator of kind '" + text(creator.getInterfaceInfo().kind)
            + "' was registered; the vfi plugins are IPluginCreatorV3One only");
        return false;
    }
    if (identity.pluginNamespace != pluginNamespace)
        problem("creator " + identity.name + " registered under namespace '" + pluginNamespace
            + "' but its getPluginNamespace() is '" + identity.pluginNamespace + "'");
    // TensorRT refuses a second creator of the same name, version and namespace.
    if (find(identity.name, identity.version, pluginNamespace) != nullptr)
        return false;
    mEntries.push_back(Entry{&creator, identity.name, identity.version, pluginNamespace, library});
    mEvents.push_back(RegistryEvent{true, mLoading, &creator, identity.name, identity.version, pluginNamespace});
    return true;
}

#if NV_TENSORRT_MAJOR < 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
bool TestRegistry::registerCreator(IPluginCreator& /* creator */, AsciiChar const* /* pluginNamespace */) noexcept
{
    problem("registerCreator(IPluginCreator&) called: an IPluginV2 creator");
    return false;
}

IPluginCreator* const* TestRegistry::getPluginCreatorList(int32_t* numCreators) const noexcept
{
    // Only V3 creators are ever registered here.
    if (numCreators != nullptr)
        *numCreators = 0;
    return nullptr;
}

IPluginCreator* TestRegistry::getPluginCreator(AsciiChar const* /* pluginName */, AsciiChar const* /* pluginVersion */,
    AsciiChar const* /* pluginNamespace */) noexcept
{
    return nullptr;
}

bool TestRegistry::deregisterCreator(IPluginCreator const& /* creator */) noexcept
{
    problem("deregisterCreator(IPluginCreator const&) called: an IPluginV2 creator");
    return false;
}
#pragma GCC diagnostic pop
#endif

bool TestRegistry::registerCreator(IPluginCreatorInterface& creator, AsciiChar const* pluginNamespace) noexcept
{
    try
    {
        return add(creator, text(pluginNamespace), nullptr);
    }
    catch (...)
    {
        return false;
    }
}

bool TestRegistry::deregisterCreator(IPluginCreatorInterface const& creator) noexcept
{
    try
    {
        for (auto it = mEntries.begin(); it != mEntries.end(); ++it)
        {
            if (it->creator != &creator)
                continue;
            mEvents.push_back(RegistryEvent{false, mLoading, &creator, it->name, it->version, it->pluginNamespace});
            mEntries.erase(it);
            return true;
        }
        problem("deregisterCreator of a creator that is not registered");
    }
    catch (...)
    {
    }
    return false;
}

IPluginCreatorInterface* const* TestRegistry::getAllCreators(int32_t* numCreators) const noexcept
{
    try
    {
        mList.clear();
        for (Entry const& entry : mEntries)
            mList.push_back(entry.creator);
        if (numCreators != nullptr)
            *numCreators = static_cast<int32_t>(mList.size());
        return mList.data();
    }
    catch (...)
    {
        return nullptr;
    }
}

IPluginCreatorInterface* const* TestRegistry::getAllCreatorsRecursive(int32_t* numCreators) noexcept
{
    return getAllCreators(numCreators); // no parent registry
}

IPluginCreatorInterface* TestRegistry::getCreator(
    AsciiChar const* pluginName, AsciiChar const* pluginVersion, AsciiChar const* pluginNamespace) noexcept
{
    try
    {
        Entry const* entry = find(text(pluginName), text(pluginVersion), pluginNamespace ? pluginNamespace : "");
        return entry != nullptr ? entry->creator : nullptr;
    }
    catch (...)
    {
        return nullptr;
    }
}

IPluginResource* TestRegistry::acquirePluginResource(AsciiChar const* key, IPluginResource* /* resource */) noexcept
{
    problem("acquirePluginResource('" + text(key) + "') called: the vfi plugins share no resources");
    return nullptr;
}

int32_t TestRegistry::releasePluginResource(AsciiChar const* key) noexcept
{
    problem("releasePluginResource('" + text(key) + "') called: the vfi plugins share no resources");
    return -1;
}

// The entry points a plugin library exports for loadLibrary: TensorRT's samples/trtexec/README.md
// ("--dynamicPlugins") and plugin/vc/vfcCommon.{h,cpp} (NVIDIA/TensorRT release/10.13).
using SetLoggerFinder = void (*)(ILoggerFinder*);
using GetCreators = IPluginCreatorInterface* const* (*) (int32_t&);

IPluginRegistry::PluginLibraryHandle TestRegistry::loadLibrary(AsciiChar const* pluginPath) noexcept
{
    try
    {
        mLoading = true;
        void* handle = dlopen(pluginPath, RTLD_LAZY | RTLD_LOCAL);
        mLoading = false;
        if (handle == nullptr)
        {
            problem(std::string("dlopen failed: ") + dlerror());
            return nullptr;
        }
        auto setLoggerFinder = reinterpret_cast<SetLoggerFinder>(dlsym(handle, "setLoggerFinder"));
        auto getCreators = reinterpret_cast<GetCreators>(dlsym(handle, "getCreators"));
        if (getCreators == nullptr)
        {
            problem(text(pluginPath) + " exports no getCreators");
            dlclose(handle);
            return nullptr;
        }
        if (setLoggerFinder != nullptr)
            setLoggerFinder(&mLoggerFinder);
        int32_t count = 0;
        IPluginCreatorInterface* const* creators = getCreators(count);
        if (count <= 0 || creators == nullptr)
        {
            problem("getCreators returned no creators");
            dlclose(handle);
            return nullptr;
        }
        for (int32_t i = 0; i < count; ++i)
        {
            CreatorIdentity identity;
            if (creators[i] == nullptr || !identify(*creators[i], identity))
            {
                problem("getCreators returned a null creator or one that is not IPluginCreatorV3One");
                continue;
            }
            if (!add(*creators[i], identity.pluginNamespace, handle))
            {
                problem("loadLibrary refuses " + identity.pluginNamespace + "::" + identity.name + " version "
                    + identity.version + ": a creator of that identity is registered already");
                // Left loaded: the registration in the way points into it.
                removeEntries(handle);
                return nullptr;
            }
        }
        return handle;
    }
    catch (std::exception const& e)
    {
        problem(std::string("loadLibrary: ") + e.what());
    }
    return nullptr;
}

void TestRegistry::removeEntries(PluginLibraryHandle handle)
{
    for (auto it = mEntries.begin(); it != mEntries.end();)
    {
        if (it->library != handle)
        {
            ++it;
            continue;
        }
        mEvents.push_back(RegistryEvent{false, false, it->creator, it->name, it->version, it->pluginNamespace});
        it = mEntries.erase(it);
    }
}

void TestRegistry::deregisterLibrary(PluginLibraryHandle handle) noexcept
{
    try
    {
        removeEntries(handle);
        if (handle != nullptr && dlclose(handle) != 0)
            problem(std::string("dlclose failed: ") + dlerror());
    }
    catch (...)
    {
    }
}

// --- expressions ------------------------------------------------------------------------------

Expression::Expression(Kind kind, int64_t value, bool constant, std::string text)
    : mKind(kind)
    , mValue(value)
    , mConstant(constant)
    , mText(std::move(text))
{
    IDimensionExpr::mImpl = this;
}

int64_t Expression::getConstantValue() const
{
    // The documented value of a non-constant expression.
    return mConstant ? mValue : std::numeric_limits<int64_t>::min();
}

Expression const* ExprBuilder::make(Expression::Kind kind, int64_t value, bool constant, std::string text)
{
    mExpressions.push_back(std::make_unique<Expression>(kind, value, constant, std::move(text)));
    return mExpressions.back().get();
}

Expression const* ExprBuilder::makeConstant(int64_t value)
{
    return make(Expression::Kind::kConstant, value, true, std::to_string(value));
}

Expression const* ExprBuilder::makeSymbol(std::string const& name, int64_t runtimeValue)
{
    return make(Expression::Kind::kSymbol, runtimeValue, false, name);
}

Expression const* ExprBuilder::own(IDimensionExpr const* expr) const
{
    for (auto const& e : mExpressions)
        if (static_cast<IDimensionExpr const*>(e.get()) == expr)
            return e.get();
    return nullptr;
}

std::vector<std::string> ExprBuilder::takeProblems()
{
    std::vector<std::string> problems;
    problems.swap(mProblems);
    return problems;
}

namespace
{

int64_t floorDiv(int64_t a, int64_t b)
{
    int64_t const q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

} // namespace

IDimensionExpr const* ExprBuilder::operation(
    DimensionOperation op, IDimensionExpr const& first, IDimensionExpr const& second)
{
    try
    {
        Expression const* a = own(&first);
        Expression const* b = own(&second);
        if (a == nullptr || b == nullptr)
        {
            mProblems.push_back("IExprBuilder::operation got an expression this builder did not make");
            return nullptr;
        }
        int64_t x = a->value(), y = b->value();
        int64_t value = 0;
        char const* symbol = "?";
        switch (op)
        {
        case DimensionOperation::kSUM: value = x + y, symbol = "+"; break;
        case DimensionOperation::kPROD: value = x * y, symbol = "*"; break;
        case DimensionOperation::kMAX: value = x > y ? x : y, symbol = " max "; break;
        case DimensionOperation::kMIN: value = x < y ? x : y, symbol = " min "; break;
        case DimensionOperation::kSUB: value = x - y, symbol = "-"; break;
        case DimensionOperation::kEQUAL: value = x == y, symbol = "=="; break;
        case DimensionOperation::kLESS: value = x < y, symbol = "<"; break;
        case DimensionOperation::kFLOOR_DIV:
        case DimensionOperation::kCEIL_DIV:
            if (y == 0)
            {
                mProblems.push_back("IExprBuilder::operation: division by zero");
                return nullptr;
            }
            value = op == DimensionOperation::kFLOOR_DIV ? floorDiv(x, y) : -floorDiv(-x, y);
            symbol = op == DimensionOperation::kFLOOR_DIV ? "//" : " ceildiv ";
            break;
        default: return nullptr; // documented: nullptr for an invalid operation
        }
        // An operation on constants is a constant, as TensorRT folds it.
        return make(Expression::Kind::kOperation, value, a->isConstant() && b->isConstant(),
            "(" + a->text() + symbol + b->text() + ")");
    }
    catch (...)
    {
        return nullptr;
    }
}

IDimensionExpr const* ExprBuilder::declareSizeTensor(
    int32_t outputIndex, IDimensionExpr const& /* opt */, IDimensionExpr const& /* upper */)
{
    mProblems.push_back("declareSizeTensor(" + std::to_string(outputIndex)
        + ") called: the vfi plugins have no size tensor outputs");
    return nullptr;
}

} // namespace vfi_lifecycle

// TensorRT's global entry points (NvInferRuntime.h), resolved by the plugin library it loads.
extern "C" TENSORRTAPI nvinfer1::IPluginRegistry* getPluginRegistry() noexcept
{
    return &vfi_lifecycle::registry();
}

extern "C" TENSORRTAPI nvinfer1::ILogger* getLogger() noexcept
{
    return &vfi_lifecycle::globalLogger();
}
