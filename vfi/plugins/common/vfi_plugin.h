// What every vfi TensorRT plugin shares: logging, attribute (plugin field) parsing, and the
// IPluginV3 boilerplate (capabilities, identity, dtype/format rules, cloning, shape checks before
// execution). An op's plugin adds its attributes, output shape expression, shape check and
// enqueue, which calls the op's CUDA launcher; no maths lives here.
#pragma once

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <NvInferRuntime.h>

#include "vfi_common.cuh"

namespace vfi::trt
{

using namespace nvinfer1;

constexpr char kNamespace[] = "vfi";
constexpr char kVersion[] = "1";

// Through the ILoggerFinder TensorRT handed to setLoggerFinder(), else TensorRT's global logger,
// else stderr.
void log(ILogger::Severity severity, std::string const& message) noexcept;

// Never throws: when even the message cannot be built, the plugin's name goes to stderr.
void logError(char const* plugin, char const* message) noexcept;

// Every override is noexcept, and a bad_alloc escaping one would terminate the process TensorRT
// runs in: `body` runs here, and any exception is logged and becomes `failure`.
template <typename Result, typename Body>
Result guarded(char const* plugin, Result failure, Body&& body) noexcept
{
    try
    {
        return body();
    }
    catch (std::exception const& e)
    {
        logError(plugin, e.what());
    }
    catch (...)
    {
        logError(plugin, "unknown exception");
    }
    return failure;
}

// Attribute parsing: each throws std::invalid_argument naming the field; createPlugin logs it.
inline bool named(PluginField const& field, char const* name)
{
    return field.name != nullptr && std::strcmp(field.name, name) == 0;
}

// The ONNX parser passes a string with its terminating NUL, TensorRT's Python API without.
std::string readString(PluginField const& field);
float readFloat32(PluginField const& field);
int32_t readInt32(PluginField const& field);
// plugin_version and plugin_namespace select the plugin and are accepted and ignored; any other
// unknown field is an error.
void acceptIdentityField(PluginField const& field);

// A field declaration for IPluginCreatorV3One::getFieldNames.
inline PluginField declareField(char const* name, PluginFieldType type)
{
    return PluginField{name, nullptr, type, 1};
}

inline Shape4 shapeOf(Dims const& dims)
{
    return dims.nbDims == 4 ? Shape4{dims.d[0], dims.d[1], dims.d[2], dims.d[3]} : Shape4{-1, -1, -1, -1};
}

// True when `expr` is a build-time constant other than `expected`: a shape error found before any
// execution shape is known.
inline bool constantOtherThan(IDimensionExpr const* expr, int64_t expected)
{
    return expr->isConstant() && expr->getConstantValue() != expected;
}

// The IPluginV3 part every op shares. Derived provides:
//   static constexpr char const* kName;             the plugin name (== the ONNX op type)
//   int32_t inputCount() const;                     how many inputs its attributes call for
//   char const* checkConstantShapes(DimsExprs const* inputs) const;   nullptr or the error
//   void outputShape(DimsExprs const* inputs, DimsExprs& output) const;
//   char const* checkShapes(PluginTensorDesc const* in, PluginTensorDesc const& out) const;
//   int32_t enqueue(...), PluginFieldCollection const* getFieldsToSerialize().
template <typename Derived>
class PluginBase : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild, public IPluginV3OneRuntime
{
public:
    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override
    {
        switch (type)
        {
        case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
        case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
        case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
        }
        return nullptr;
    }

    IPluginV3* clone() noexcept override
    {
        return guarded(Derived::kName, static_cast<IPluginV3*>(nullptr),
            [&] { return static_cast<IPluginV3*>(new Derived(static_cast<Derived const&>(*this))); });
    }

    AsciiChar const* getPluginName() const noexcept override { return Derived::kName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return kNamespace; }

    int32_t getNbOutputs() const noexcept override { return 1; }

    int32_t getOutputDataTypes(
        DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes, int32_t nbInputs) const noexcept override
    {
        if (nbOutputs != 1 || nbInputs < 1)
            return 1;
        outputTypes[0] = inputTypes[0];
        return 0;
    }

    int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* /* shapeInputs */,
        int32_t nbShapeInputs, DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& /* exprBuilder */) noexcept override
    {
        return guarded(Derived::kName, int32_t{1}, [&]() -> int32_t {
            Derived const& self = static_cast<Derived const&>(*this);
            if (nbInputs != self.inputCount() || nbShapeInputs != 0 || nbOutputs != 1)
            {
                logError(Derived::kName,
                    ("expects " + std::to_string(self.inputCount()) + " inputs and 1 output for its attributes, got "
                        + std::to_string(nbInputs) + " inputs, " + std::to_string(nbShapeInputs)
                        + " shape inputs and " + std::to_string(nbOutputs) + " outputs")
                        .c_str());
                return 1;
            }
            for (int32_t i = 0; i < nbInputs; ++i)
            {
                if (inputs[i].nbDims != 4)
                {
                    logError(Derived::kName,
                        ("input " + std::to_string(i) + " must have rank 4 (NCHW), got rank "
                            + std::to_string(inputs[i].nbDims))
                            .c_str());
                    return 1;
                }
            }
            if (char const* message = self.checkConstantShapes(inputs))
            {
                logError(Derived::kName, message);
                return 1;
            }
            outputs[0].nbDims = 4;
            self.outputShape(inputs, outputs[0]);
            return 0;
        });
    }

    // Linear (NCHW) fp32 or fp16, every tensor of the first one's type.
    bool supportsFormatCombination(
        int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t /* nbInputs */, int32_t /* nbOutputs */) noexcept override
    {
        PluginTensorDesc const& desc = inOut[pos].desc;
        bool const supported = desc.format == TensorFormat::kLINEAR
            && (desc.type == DataType::kFLOAT || desc.type == DataType::kHALF);
        return supported && desc.type == inOut[0].desc.type;
    }

    int32_t configurePlugin(DynamicPluginTensorDesc const* /* in */, int32_t /* nbInputs */,
        DynamicPluginTensorDesc const* /* out */, int32_t /* nbOutputs */) noexcept override
    {
        return 0;
    }

    // Called with the optimisation profile's kOPT shapes while building and with every new
    // execution shape: the full shape check, with a message, before any launch.
    int32_t onShapeChange(
        PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* out, int32_t nbOutputs) noexcept override
    {
        Derived const& self = static_cast<Derived const&>(*this);
        if (nbInputs != self.inputCount() || nbOutputs != 1)
        {
            logError(Derived::kName, "unexpected number of inputs or outputs");
            return 1;
        }
        if (char const* message = self.checkShapes(in, out[0]))
        {
            logError(Derived::kName, message);
            return 1;
        }
        return 0;
    }

    IPluginV3* attachToContext(IPluginResourceContext* /* context */) noexcept override { return clone(); }

protected:
    // Calls launch(T{}) with T the I/O type, float or half.
    template <typename Launch>
    static cudaError_t forType(DataType type, Launch&& launch)
    {
        switch (type)
        {
        case DataType::kFLOAT: return launch(float{});
        case DataType::kHALF: return launch(half{});
        default: return cudaErrorInvalidValue;
        }
    }

    // The status enqueue returns for a launcher's result.
    static int32_t launched(cudaError_t result) noexcept
    {
        if (result == cudaSuccess)
            return 0;
        return guarded(Derived::kName, int32_t{1}, [&] {
            logError(Derived::kName, (std::string("kernel launch failed: ") + cudaGetErrorString(result)).c_str());
            return int32_t{1};
        });
    }
};

// The creator of Plugin. Plugin provides kName, static std::vector<PluginField> const& fields()
// (the attributes, as declared to TensorRT) and static Plugin fromFields(PluginFieldCollection
// const&), which throws std::invalid_argument on a bad attribute.
template <typename Plugin>
class Creator : public IPluginCreatorV3One
{
public:
    Creator()
    {
        mFieldNames.nbFields = static_cast<int32_t>(Plugin::fields().size());
        mFieldNames.fields = Plugin::fields().data();
    }

    IPluginV3* createPlugin(
        AsciiChar const* /* name */, PluginFieldCollection const* fc, TensorRTPhase /* phase */) noexcept override
    {
        try
        {
            return new Plugin(Plugin::fromFields(fc != nullptr ? *fc : PluginFieldCollection{0, nullptr}));
        }
        catch (std::exception const& e)
        {
            logError(Plugin::kName, e.what());
        }
        catch (...)
        {
            logError(Plugin::kName, "unknown exception");
        }
        return nullptr;
    }

    PluginFieldCollection const* getFieldNames() noexcept override { return &mFieldNames; }
    AsciiChar const* getPluginName() const noexcept override { return Plugin::kName; }
    AsciiChar const* getPluginVersion() const noexcept override { return kVersion; }
    AsciiChar const* getPluginNamespace() const noexcept override { return kNamespace; }

private:
    PluginFieldCollection mFieldNames{};
};

} // namespace vfi::trt
