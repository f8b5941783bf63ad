// TensorRT plugin vfi::SoftSplat v1: attributes mode (string) and eps (float); inputs input,
// flow and, for modes linear and soft, metric; fp32 or fp16 NCHW; enqueue calls launch_softsplat.
#pragma once

#include "softsplat_kernel.cuh"
#include "vfi_plugin.h"

namespace vfi::trt
{

class SoftSplatPlugin : public PluginBase<SoftSplatPlugin>
{
public:
    static constexpr char const* kName = "SoftSplat";
    static std::vector<PluginField> const& fields();
    static SoftSplatPlugin fromFields(PluginFieldCollection const& fc);

    SoftSplatPlugin(SoftsplatMode mode, float eps);

    int32_t inputCount() const;
    char const* checkConstantShapes(DimsExprs const* inputs) const;
    void outputShape(DimsExprs const* inputs, DimsExprs& output) const;
    char const* checkShapes(PluginTensorDesc const* in, PluginTensorDesc const& out) const;

    size_t getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
        DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;
    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc, void const* const* inputs,
        void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    SoftsplatMode mMode;
    float mEps;
    std::vector<PluginField> mSerialized;
    PluginFieldCollection mSerializedCollection{};
};

IPluginCreatorV3One& softsplat_plugin_creator();

} // namespace vfi::trt
