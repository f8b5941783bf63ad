#include "softsplat_plugin.h"

namespace vfi::trt
{

std::vector<PluginField> const& SoftSplatPlugin::fields()
{
    static std::vector<PluginField> const declared{
        declareField("mode", PluginFieldType::kCHAR),
        declareField("eps", PluginFieldType::kFLOAT32),
    };
    return declared;
}

SoftSplatPlugin SoftSplatPlugin::fromFields(PluginFieldCollection const& fc)
{
    SoftsplatMode mode = SoftsplatMode::kSoft;
    float eps = 1e-7f;
    for (int32_t i = 0; i < fc.nbFields; ++i)
    {
        PluginField const& field = fc.fields[i];
        if (named(field, "mode"))
        {
            std::string const name = readString(field);
            if (!softsplat_mode_from_name(name.c_str(), &mode))
                throw std::invalid_argument("attribute 'mode' must be one of sum, avg, linear, soft, got '" + name + "'");
        }
        else if (named(field, "eps"))
            eps = readFloat32(field);
        else
            acceptIdentityField(field);
    }
    return SoftSplatPlugin(mode, eps);
}

SoftSplatPlugin::SoftSplatPlugin(SoftsplatMode mode, float eps)
    : mMode(mode)
    , mEps(eps)
{
}

int32_t SoftSplatPlugin::inputCount() const
{
    return softsplat_uses_metric(mMode) ? 3 : 2;
}

char const* SoftSplatPlugin::checkConstantShapes(DimsExprs const* inputs) const
{
    if (constantOtherThan(inputs[1].d[1], 2))
        return "flow must have shape [N,2,H,W]";
    if (inputCount() == 3 && constantOtherThan(inputs[2].d[1], 1))
        return "metric must have shape [N,1,H,W]";
    return nullptr;
}

void SoftSplatPlugin::outputShape(DimsExprs const* inputs, DimsExprs& output) const
{
    output = inputs[0];
}

char const* SoftSplatPlugin::checkShapes(PluginTensorDesc const* in, PluginTensorDesc const& out) const
{
    Shape4 const metric = inputCount() == 3 ? shapeOf(in[2].dims) : Shape4{};
    SoftsplatProblem problem;
    return softsplat_check(shapeOf(in[0].dims), shapeOf(in[1].dims), inputCount() == 3 ? &metric : nullptr,
        shapeOf(out.dims), mMode, mEps, &problem);
}

size_t SoftSplatPlugin::getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t /* nbInputs */,
    DynamicPluginTensorDesc const* /* outputs */, int32_t /* nbOutputs */) const noexcept
{
    return softsplat_workspace_bytes(shapeOf(inputs[0].max)); // the profile's largest input
}

int32_t SoftSplatPlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    bool const withMetric = inputCount() == 3;
    Shape4 const metricShape = withMetric ? shapeOf(inputDesc[2].dims) : Shape4{};
    size_t const workspaceBytes = softsplat_workspace_bytes(shapeOf(inputDesc[0].dims));
    return launched(forType(inputDesc[0].type, [&](auto zero) {
        using T = decltype(zero);
        return launch_softsplat(static_cast<T const*>(inputs[0]), shapeOf(inputDesc[0].dims),
            static_cast<T const*>(inputs[1]), shapeOf(inputDesc[1].dims),
            withMetric ? static_cast<T const*>(inputs[2]) : nullptr, metricShape, static_cast<T*>(outputs[0]),
            shapeOf(outputDesc[0].dims), mMode, mEps, workspace, workspaceBytes, stream);
    }));
}

PluginFieldCollection const* SoftSplatPlugin::getFieldsToSerialize() noexcept
{
    return guarded(kName, static_cast<PluginFieldCollection const*>(nullptr), [&] {
        char const* const mode = softsplat_mode_name(mMode);
        mSerialized = {
            PluginField{"mode", mode, PluginFieldType::kCHAR, static_cast<int32_t>(std::strlen(mode) + 1)},
            PluginField{"eps", &mEps, PluginFieldType::kFLOAT32, 1},
        };
        mSerializedCollection = PluginFieldCollection{static_cast<int32_t>(mSerialized.size()), mSerialized.data()};
        return static_cast<PluginFieldCollection const*>(&mSerializedCollection);
    });
}

IPluginCreatorV3One& softsplat_plugin_creator()
{
    static Creator<SoftSplatPlugin> creator;
    return creator;
}

} // namespace vfi::trt
