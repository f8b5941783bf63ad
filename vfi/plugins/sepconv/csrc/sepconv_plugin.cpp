#include "sepconv_plugin.h"

namespace vfi::trt
{

std::vector<PluginField> const& SepConvPlugin::fields()
{
    static std::vector<PluginField> const declared{};
    return declared;
}

SepConvPlugin SepConvPlugin::fromFields(PluginFieldCollection const& fc)
{
    for (int32_t i = 0; i < fc.nbFields; ++i)
        acceptIdentityField(fc.fields[i]);
    return SepConvPlugin();
}

char const* SepConvPlugin::checkConstantShapes(DimsExprs const* inputs) const
{
    // K is vertical's channel count; horizontal must have as many taps.
    if (inputs[1].d[1]->isConstant() && constantOtherThan(inputs[2].d[1], inputs[1].d[1]->getConstantValue()))
        return "horizontal must have the shape [N,K,H,W] of vertical";
    return nullptr;
}

void SepConvPlugin::outputShape(DimsExprs const* inputs, DimsExprs& output) const
{
    // [N, C] of the input, [H, W] of the kernels.
    output.d[0] = inputs[0].d[0];
    output.d[1] = inputs[0].d[1];
    output.d[2] = inputs[1].d[2];
    output.d[3] = inputs[1].d[3];
}

char const* SepConvPlugin::checkShapes(PluginTensorDesc const* in, PluginTensorDesc const& out) const
{
    SepconvProblem problem;
    return sepconv_check(shapeOf(in[0].dims), shapeOf(in[1].dims), shapeOf(in[2].dims), shapeOf(out.dims), &problem);
}

int32_t SepConvPlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* /* workspace */, cudaStream_t stream) noexcept
{
    return launched(forType(inputDesc[0].type, [&](auto zero) {
        using T = decltype(zero);
        return launch_sepconv(static_cast<T const*>(inputs[0]), shapeOf(inputDesc[0].dims),
            static_cast<T const*>(inputs[1]), shapeOf(inputDesc[1].dims), static_cast<T const*>(inputs[2]),
            shapeOf(inputDesc[2].dims), static_cast<T*>(outputs[0]), shapeOf(outputDesc[0].dims), stream);
    }));
}

PluginFieldCollection const* SepConvPlugin::getFieldsToSerialize() noexcept
{
    return &mSerializedCollection;
}

IPluginCreatorV3One& sepconv_plugin_creator()
{
    static Creator<SepConvPlugin> creator;
    return creator;
}

} // namespace vfi::trt
