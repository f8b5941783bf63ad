// TensorRT plugin vfi::SepConv v1: no attributes; inputs input, vertical, horizontal; fp32 or
// fp16 NCHW; enqueue calls launch_sepconv.
#pragma once

#include "sepconv_kernel.cuh"
#include "vfi_plugin.h"

namespace vfi::trt
{

class SepConvPlugin : public PluginBase<SepConvPlugin>
{
public:
    static constexpr char const* kName = "SepConv";
    static std::vector<PluginField> const& fields();
    static SepConvPlugin fromFields(PluginFieldCollection const& fc);

    int32_t inputCount() const { return 3; }
    char const* checkConstantShapes(DimsExprs const* inputs) const;
    void outputShape(DimsExprs const* inputs, DimsExprs& output) const;
    char const* checkShapes(PluginTensorDesc const* in, PluginTensorDesc const& out) const;

    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc, void const* const* inputs,
        void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    PluginFieldCollection mSerializedCollection{0, nullptr};
};

IPluginCreatorV3One& sepconv_plugin_creator();

} // namespace vfi::trt
