// TensorRT plugin vfi::AdaCoF v1: attribute dilation (int); inputs input, weight, alpha, beta;
// fp32 or fp16 NCHW; enqueue calls launch_adacof.
#pragma once

#include "adacof_kernel.cuh"
#include "vfi_plugin.h"

namespace vfi::trt
{

class AdaCoFPlugin : public PluginBase<AdaCoFPlugin>
{
public:
    static constexpr char const* kName = "AdaCoF";
    static std::vector<PluginField> const& fields();
    static AdaCoFPlugin fromFields(PluginFieldCollection const& fc);

    explicit AdaCoFPlugin(int32_t dilation);

    int32_t inputCount() const { return 4; }
    char const* checkConstantShapes(DimsExprs const* inputs) const;
    void outputShape(DimsExprs const* inputs, DimsExprs& output) const;
    char const* checkShapes(PluginTensorDesc const* in, PluginTensorDesc const& out) const;

    int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc, void const* const* inputs,
        void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    int32_t mDilation;
    std::vector<PluginField> mSerialized;
    PluginFieldCollection mSerializedCollection{};
};

IPluginCreatorV3One& adacof_plugin_creator();

} // namespace vfi::trt
