// The parts of TensorRT a plugin library talks to, written from the TensorRT 10/11 headers for the
// lifecycle driver (trt_lifecycle.cpp): a recording logger and the ILoggerFinder handed to
// setLoggerFinder(); the plugin registry, whose loadLibrary() loads a plugin library the way
// IPluginRegistry::loadLibrary does; an IPluginResourceContext; and an IExprBuilder whose
// expressions are symbols with known values, so an output shape can be checked against the real
// one. The driver exports getPluginRegistry() and getLogger() (declared in NvInferRuntime.h) to
// the library it loads.
#pragma once

#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <NvInferRuntime.h>

namespace vfi_lifecycle
{

// A lifecycle check that failed: a bug in the plugin code (or the driver), not an op refusing
// its arguments.
class CheckFailure : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

inline void check(bool condition, std::string const& what)
{
    if (!condition)
        throw CheckFailure(what);
}

struct LogMessage
{
    nvinfer1::ILogger::Severity severity;
    std::string text;
};

// Keeps every message and prints it to stderr (stdout carries the driver's results).
class RecordingLogger final : public nvinfer1::ILogger
{
public:
    explicit RecordingLogger(char const* name)
        : mName(name)
    {
    }
    void log(Severity severity, nvinfer1::AsciiChar const* message) noexcept override;
    std::vector<LogMessage> const& messages() const { return mMessages; }
    void clear() { mMessages.clear(); }

private:
    char const* mName;
    std::vector<LogMessage> mMessages;
};

// The logger the plugin library gets through setLoggerFinder() and the one getLogger() returns:
// distinct, so the driver sees which one the library uses.
RecordingLogger& finderLogger();
RecordingLogger& globalLogger();

class LoggerFinder final : public nvinfer1::ILoggerFinder
{
public:
    nvinfer1::ILogger* findLogger() override { return &finderLogger(); }
};

// One registerCreator or deregisterCreator call.
struct RegistryEvent
{
    bool registered; // false: deregistered
    bool duringLoad; // made while the library was being dlopened (its load-time initialisers)
    nvinfer1::IPluginCreatorInterface const* creator;
    std::string name, version, pluginNamespace;
};

// IPluginRegistry of the headers compiled against (NV_TENSORRT_MAJOR 10 or 11). It records
// every (de)registration; what TensorRT would refuse or report as an error becomes a problem
// the driver checks for after each step (the interface is noexcept).
class TestRegistry final : public nvinfer1::IPluginRegistry
{
public:
    ~TestRegistry() noexcept override = default;

#if NV_TENSORRT_MAJOR < 11
    // IPluginV2 creators (deprecated in 10, removed in 11): the vfi library has none, but the
    // interface is abstract without them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    bool registerCreator(
        nvinfer1::IPluginCreator& creator, nvinfer1::AsciiChar const* pluginNamespace) noexcept override;
    nvinfer1::IPluginCreator* const* getPluginCreatorList(int32_t* numCreators) const noexcept override;
    nvinfer1::IPluginCreator* getPluginCreator(nvinfer1::AsciiChar const* pluginName,
        nvinfer1::AsciiChar const* pluginVersion, nvinfer1::AsciiChar const* pluginNamespace) noexcept override;
    bool deregisterCreator(nvinfer1::IPluginCreator const& creator) noexcept override;
#pragma GCC diagnostic pop
#endif

    void setErrorRecorder(nvinfer1::IErrorRecorder* recorder) noexcept override { mRecorder = recorder; }
    nvinfer1::IErrorRecorder* getErrorRecorder() const noexcept override { return mRecorder; }
    bool isParentSearchEnabled() const override { return mParentSearch; }
    void setParentSearchEnabled(bool enabled) override { mParentSearch = enabled; }

    // As IPluginRegistry::loadLibrary: dlopen, setLoggerFinder (when exported), getCreators, and
    // each creator registered under the library's handle; nullptr when a creator of the same
    // identity is registered already (the documented refusal) or an entry point is missing.
    PluginLibraryHandle loadLibrary(nvinfer1::AsciiChar const* pluginPath) noexcept override;
    void deregisterLibrary(PluginLibraryHandle handle) noexcept override;

    bool registerCreator(
        nvinfer1::IPluginCreatorInterface& creator, nvinfer1::AsciiChar const* pluginNamespace) noexcept override;
    nvinfer1::IPluginCreatorInterface* const* getAllCreators(int32_t* numCreators) const noexcept override;
    nvinfer1::IPluginCreatorInterface* getCreator(nvinfer1::AsciiChar const* pluginName,
        nvinfer1::AsciiChar const* pluginVersion, nvinfer1::AsciiChar const* pluginNamespace) noexcept override;
    bool deregisterCreator(nvinfer1::IPluginCreatorInterface const& creator) noexcept override;
    nvinfer1::IPluginResource* acquirePluginResource(
        nvinfer1::AsciiChar const* key, nvinfer1::IPluginResource* resource) noexcept override;
    int32_t releasePluginResource(nvinfer1::AsciiChar const* key) noexcept override;
    nvinfer1::IPluginCreatorInterface* const* getAllCreatorsRecursive(int32_t* numCreators) noexcept override;

    std::vector<RegistryEvent> const& events() const { return mEvents; }
    // What went wrong since the last call (empty: nothing).
    std::vector<std::string> takeProblems();

private:
    struct Entry
    {
        nvinfer1::IPluginCreatorInterface* creator;
        std::string name, version, pluginNamespace;
        PluginLibraryHandle library; // nullptr: registered by registerCreator
    };
    void problem(std::string text) { mProblems.push_back(std::move(text)); }
    Entry const* find(std::string const& name, std::string const& version, std::string const& pluginNamespace) const;
    bool add(
        nvinfer1::IPluginCreatorInterface& creator, std::string const& pluginNamespace, PluginLibraryHandle library);
    void removeEntries(PluginLibraryHandle library);

    std::vector<Entry> mEntries;
    mutable std::vector<nvinfer1::IPluginCreatorInterface*> mList; // getAllCreators' array
    std::vector<RegistryEvent> mEvents;
    std::vector<std::string> mProblems;
    nvinfer1::IErrorRecorder* mRecorder = nullptr;
    bool mParentSearch = true;
    bool mLoading = false;
    LoggerFinder mLoggerFinder;
};

TestRegistry& registry();

// The name, version and namespace of a V3One creator; a problem for any other kind.
struct CreatorIdentity
{
    std::string name, version, pluginNamespace;
};
bool identify(nvinfer1::IPluginCreatorInterface const& creator, CreatorIdentity& identity);

// What attachToContext receives. The vfi plugins use none of it; nullptr is what a context
// without a GPU allocator or error recorder of its own would give.
class ResourceContext final : public nvinfer1::IPluginResourceContext
{
public:
    nvinfer1::IGpuAllocator* getGpuAllocator() const noexcept override { return nullptr; }
    nvinfer1::IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
};

// A dimension expression of the test builder: a constant, a symbol (a dimension TensorRT does not
// know at build time, with the value it will have at run time), or an operation on two of them.
// IDimensionExpr forwards to apiv::VDimensionExpr (NvInferImpl.h), which this implements.
class Expression final : public nvinfer1::IDimensionExpr, private nvinfer1::apiv::VDimensionExpr
{
public:
    enum class Kind
    {
        kConstant,
        kSymbol,
        kOperation,
        kSizeTensor,
    };
    Expression(Kind kind, int64_t value, bool constant, std::string text);
    ~Expression() noexcept override = default;

    bool isConstant() const override { return mConstant; }
    int64_t getConstantValue() const override;
    bool isSizeTensor() const override { return mKind == Kind::kSizeTensor; }

    Kind kind() const { return mKind; }
    // The value at run time (a constant's value, a symbol's run-time value).
    int64_t value() const { return mValue; }
    std::string const& text() const { return mText; }

private:
    Kind mKind;
    int64_t mValue;
    bool mConstant;
    std::string mText;
};

// IExprBuilder forwards to apiv::VExprBuilder, which this implements. Owns every expression it
// made; TensorRT documents that they die after getOutputShapes returns, and so do these when the
// builder does.
class ExprBuilder final : public nvinfer1::IExprBuilder, private nvinfer1::apiv::VExprBuilder
{
public:
    ExprBuilder() { mImpl = this; }
    ~ExprBuilder() noexcept override = default;

    // For the driver: the inputs' dimensions.
    Expression const* makeConstant(int64_t value);
    Expression const* makeSymbol(std::string const& name, int64_t runtimeValue);
    // The expression as made by this builder, or nullptr when it is not one of its own.
    Expression const* own(nvinfer1::IDimensionExpr const* expr) const;
    std::vector<std::string> takeProblems();

private:
    nvinfer1::IDimensionExpr const* constant(int64_t value) override { return makeConstant(value); }
    nvinfer1::IDimensionExpr const* operation(nvinfer1::DimensionOperation op, nvinfer1::IDimensionExpr const& first,
        nvinfer1::IDimensionExpr const& second) override;
    nvinfer1::IDimensionExpr const* declareSizeTensor(
        int32_t outputIndex, nvinfer1::IDimensionExpr const& opt, nvinfer1::IDimensionExpr const& upper) override;

    Expression const* make(Expression::Kind kind, int64_t value, bool constant, std::string text);

    std::deque<std::unique_ptr<Expression>> mExpressions;
    std::vector<std::string> mProblems;
};

} // namespace vfi_lifecycle
