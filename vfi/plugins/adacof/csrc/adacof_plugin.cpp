#include "adacof_plugin.h"

namespace vfi::trt
{

std::vector<PluginField> const& AdaCoFPlugin::fields()
{
    static std::vector<PluginField> const declared{
        declareField("dilation", PluginFieldType::kINT32),
    };
    return declared;
}

AdaCoFPlugin AdaCoFPlugin::fromFields(PluginFieldCollection const& fc)
{
    int32_t dilation = 1;
    for (int32_t i = 0; i < fc.nbFields; ++i)
    {
        PluginField const& field = fc.fields[i];
        if (named(field, "dilation"))
            dilation = readInt32(field);
        else
            acceptIdentityField(field);
    }
    if (dilation < 1)
        throw std::invalid_argument("attribute 'dilation' must be an integer >= 1, got " + std::to_string(dilation));
    return AdaCoFPlugin(dilation);
}

AdaCoFPlugin::AdaCoFPlugin(int32_t dilation)
    : mDilation(dilation)
{
}

char const* AdaCoFPlugin::checkConstantShapes(DimsExprs const* inputs) const
{
    IDimensionExpr const* taps = inputs[1].d[1];
    if (taps->isConstant())
    {
        int64_t const count = taps->getConstantValue();
        if (adacof_kernel_size(count) == 0)
            return "weight must have shape [N,F*F,H,W] with a square channel count F*F";
        if (constantOtherThan(inputs[2].d[1], count) || constantOtherThan(inputs[3].d[1], count))
            return "alpha and beta must have the shape [N,F*F,H,W] of weight";
    }
    return nullptr;
}

void AdaCoFPlugin::outputShape(DimsExprs const* inputs, DimsExprs& output) const
{
    // [N, C] of the input, [H, W] of the maps.
    output.d[0] = inputs[0].d[0];
    output.d[1] = inputs[0].d[1];
    output.d[2] = inputs[1].d[2];
    output.d[3] = inputs[1].d[3];
}

char const* AdaCoFPlugin::checkShapes(PluginTensorDesc const* in, PluginTensorDesc const& out) const
{
    AdacofProblem problem;
    return adacof_check(shapeOf(in[0].dims), shapeOf(in[1].dims), shapeOf(in[2].dims), shapeOf(in[3].dims),
        shapeOf(out.dims), mDilation, &problem);
}

int32_t AdaCoFPlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* /* workspace */, cudaStream_t stream) noexcept
{
    return launched(forType(inputDesc[0].type, [&](auto zero) {
        using T = decltype(zero);
        return launch_adacof(static_cast<T const*>(inputs[0]), shapeOf(inputDesc[0].dims),
            static_cast<T const*>(inputs[1]), shapeOf(inputDesc[1].dims), static_cast<T const*>(inputs[2]),
            shapeOf(inputDesc[2].dims), static_cast<T const*>(inputs[3]), shapeOf(inputDesc[3].dims),
            static_cast<T*>(outputs[0]), shapeOf(outputDesc[0].dims), mDilation, stream);
    }));
}

PluginFieldCollection const* AdaCoFPlugin::getFieldsToSerialize() noexcept
{
    return guarded(kName, static_cast<PluginFieldCollection const*>(nullptr), [&] {
        mSerialized = {PluginField{"dilation", &mDilation, PluginFieldType::kINT32, 1}};
        mSerializedCollection = PluginFieldCollection{static_cast<int32_t>(mSerialized.size()), mSerialized.data()};
        return static_cast<PluginFieldCollection const*>(&mSerializedCollection);
    });
}

IPluginCreatorV3One& adacof_plugin_creator()
{
    static Creator<AdaCoFPlugin> creator;
    return creator;
}

} // namespace vfi::trt
