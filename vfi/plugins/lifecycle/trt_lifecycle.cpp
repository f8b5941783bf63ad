// vfi_trt_lifecycle: plays TensorRT's part for the vfi plugin library, on the CPU. The library
// (libvfi_trt_lifecycle_plugins.so) is the plugin sources linked with the ops' CUDA launchers
// compiled against the emulation of ../emulation, so enqueue runs the real kernels; both carry
// the emulation's sanitizers. For each case (../emulation/case_file.h) it does what TensorRT does
// with an ONNX node vfi::<OpType>, in order:
//
//   load      IPluginRegistry::loadLibrary (TestRegistry::loadLibrary): dlopen, setLoggerFinder,
//             getCreators, registration; the library's load-time registration must be withdrawn
//             by getCreators, and all registrations are vfi::<Name> version 1
//   create    the fields the ONNX parser makes of the node's attributes (onnxAttributeFields),
//             IPluginCreatorV3One::createPlugin(kBUILD)
//   build     capabilities (kCORE, kBUILD, kRUNTIME) and their identity, getNbOutputs,
//             getOutputDataTypes, getOutputShapes (symbolic N, H, W; constant C as in a network,
//             then everything symbolic as in the single-node models) evaluated against the real
//             output shape, supportsFormatCombination over every DataType x TensorFormat position
//             by position, configurePlugin, getWorkspaceSize and onShapeChange with
//             min = opt = max = the case's shapes, clone
//   serialise getFieldsToSerialize, copied as an engine would hold them, and
//             createPlugin(kRUNTIME) from the copy, which must serialise to the same fields
//   run       attachToContext (a clone; kCORE and kRUNTIME only are required from here on),
//             onShapeChange, setTactic(0), enqueue with the case's
//             inputs, an output of NaN bytes and a workspace of exactly getWorkspaceSize bytes
//
// then destroys everything and unloads the library (deregisterLibrary). An op refusing its
// arguments (createPlugin returning nullptr, getOutputShapes or onShapeChange failing) must log
// exactly one error "vfi::<Name>: ..." through the logger of setLoggerFinder; that message is the
// case's result.
//
//   vfi_trt_lifecycle [--plugins LIBRARY] [--invalid MODE] CASE...
//
// --invalid runs the case with one thing broken, which the plugin must refuse with a message:
//   field-type          the first attribute with another ONNX type (STRING/FLOAT -> INT, INT -> FLOAT)
//   unknown-field       an extra field 'bogus' (kINT32), as TensorRT's Python API could pass
//   output-shapes-count getOutputShapes with the last input missing
//   output-shapes-rank  getOutputShapes with input 0 of rank 3
//   shape-change        onShapeChange with input 1 one pixel wider
//
// Prints one line per case, "<case>\tok" (output written) or "<case>\terror\t<message>". Exits 0
// when every case ran, 1 when a lifecycle check fails (a bug: the message says which), 2 on a bad
// command line or case file; a sanitizer report aborts with its own status.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "case_file.h"
#include "test_doubles.h"

namespace
{

using namespace nvinfer1;
using vfi_case::Case;
using vfi_case::Tensor;
using vfi_lifecycle::check;
using vfi_lifecycle::CheckFailure;
using vfi_lifecycle::Expression;
using vfi_lifecycle::ExprBuilder;

// Every vfi node carries plugin_version "1" and plugin_namespace "vfi" (vfi/plugins/onnx_node.py),
// which the parser looks the creator up with (and, from 10.10, the node's domain "vfi" too).
constexpr char kPluginNamespace[] = "vfi";
constexpr char kPluginVersion[] = "1";

enum class Invalid
{
    kNone,
    kFieldType,
    kUnknownField,
    kOutputShapesCount,
    kOutputShapesRank,
    kShapeChange,
};

// An op refused its arguments: the case's result, not a failure.
struct Refusal
{
    std::string message;
};

std::string lower(std::string text)
{
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return text;
}

// --- plugin fields --------------------------------------------------------------------------

// Plugin fields with storage for their names and data, as the parser's `fieldData` map holds them.
class Fields
{
public:
    void add(std::string const& name, PluginFieldType type, std::vector<unsigned char> bytes, int32_t length)
    {
        mNames.push_back(name);
        mData.push_back(std::move(bytes));
        void const* data = mData.back().empty() ? nullptr : mData.back().data();
        mFields.push_back(PluginField{mNames.back().c_str(), data, type, length});
    }
    PluginFieldCollection const* collection()
    {
        mCollection = PluginFieldCollection{static_cast<int32_t>(mFields.size()), mFields.data()};
        return &mCollection;
    }
    std::vector<PluginField> const& fields() const { return mFields; }

private:
    std::deque<std::string> mNames;
    std::deque<std::vector<unsigned char>> mData;
    std::vector<PluginField> mFields;
    PluginFieldCollection mCollection{};
};

template <typename T>
std::vector<unsigned char> bytesOf(std::vector<T> const& values)
{
    std::vector<unsigned char> bytes(values.size() * sizeof(T));
    if (!bytes.empty())
        std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
}

// An ONNX node attribute: its AttributeProto type and value.
struct OnnxAttribute
{
    enum class Type
    {
        kFLOAT,
        kINT,
        kSTRING,
        kFLOATS,
        kINTS,
        kSTRINGS,
    };
    std::string name;
    Type type;
    std::vector<float> floats;
    std::vector<int64_t> ints;
    std::vector<std::string> strings;
};

// The field type the parser gives an attribute of this type.
PluginFieldType parserFieldType(OnnxAttribute::Type type)
{
    switch (type)
    {
    case OnnxAttribute::Type::kFLOAT:
    case OnnxAttribute::Type::kFLOATS: return PluginFieldType::kFLOAT32;
    case OnnxAttribute::Type::kINT:
    case OnnxAttribute::Type::kINTS: return PluginFieldType::kINT32;
    case OnnxAttribute::Type::kSTRING:
    case OnnxAttribute::Type::kSTRINGS: return PluginFieldType::kCHAR;
    }
    return PluginFieldType::kUNKNOWN;
}

// The fields the ONNX parser passes to createPlugin for a node with these attributes, as
// onnx-tensorrt's onnxOpImporters.cpp builds them in FallbackPluginImporter -> addPluginWithCreator
// -> loadFields() / copyField(), identical in the 10.1-GA branch of github.com/onnx/onnx-tensorrt,
// at 346bdca (the parser commit of NVIDIA/TensorRT release/10.13) and at dd0a3a9 (a later one;
// the 11.1 commit itself was not available): only the fields the creator declares in
// getFieldNames(), in its order, a declared field without an attribute left out; FLOAT -> kFLOAT32
// x1, INT -> kINT32 x1 (the int64 narrowed), STRING -> kCHAR with its terminating NUL counted in the
// length, FLOATS -> kFLOAT32 xn, INTS -> kINT32 xn, STRINGS -> kCHAR, each NUL-terminated. The
// node's plugin_version and plugin_namespace only select the creator: not declared, so never passed.
void onnxAttributeFields(
    PluginFieldCollection const& declared, std::vector<OnnxAttribute> const& attributes, Fields& out)
{
    for (int32_t i = 0; i < declared.nbFields; ++i)
    {
        char const* name = declared.fields[i].name;
        check(name != nullptr, "getFieldNames() declares a field without a name");
        auto attribute = std::find_if(
            attributes.begin(), attributes.end(), [&](OnnxAttribute const& a) { return a.name == name; });
        if (attribute == attributes.end())
            continue;
        PluginFieldType const type = parserFieldType(attribute->type);
        switch (attribute->type)
        {
        case OnnxAttribute::Type::kFLOAT:
        case OnnxAttribute::Type::kFLOATS:
            out.add(name, type, bytesOf(attribute->floats), static_cast<int32_t>(attribute->floats.size()));
            break;
        case OnnxAttribute::Type::kINT:
        case OnnxAttribute::Type::kINTS:
        {
            std::vector<int32_t> narrowed(attribute->ints.begin(), attribute->ints.end());
            out.add(name, type, bytesOf(narrowed), static_cast<int32_t>(narrowed.size()));
            break;
        }
        case OnnxAttribute::Type::kSTRING:
        case OnnxAttribute::Type::kSTRINGS:
        {
            std::vector<unsigned char> bytes;
            for (std::string const& s : attribute->strings)
            {
                bytes.insert(bytes.end(), s.begin(), s.end());
                bytes.push_back('\0');
            }
            int32_t const length = static_cast<int32_t>(bytes.size());
            out.add(name, type, std::move(bytes), length);
            break;
        }
        }
    }
}

// The case's attributes as the node's: s -> STRING, f -> FLOAT, i -> INT (vfi/plugins/onnx_node.py
// writes the spec's str/float/int attributes so).
std::vector<OnnxAttribute> nodeAttributes(Case const& c)
{
    std::vector<OnnxAttribute> attributes;
    for (vfi_case::Attribute const& a : c.attributes)
    {
        OnnxAttribute attribute{a.name, OnnxAttribute::Type::kSTRING, {}, {}, {}};
        if (a.kind == 'f')
            attribute.type = OnnxAttribute::Type::kFLOAT, attribute.floats = {a.real};
        else if (a.kind == 'i')
            attribute.type = OnnxAttribute::Type::kINT, attribute.ints = {a.integer};
        else
            attribute.strings = {a.text};
        attributes.push_back(attribute);
    }
    for (char const* name : {"plugin_version", "plugin_namespace"})
        attributes.push_back(OnnxAttribute{name, OnnxAttribute::Type::kSTRING, {}, {},
            {std::strcmp(name, "plugin_version") == 0 ? kPluginVersion : kPluginNamespace}});
    return attributes;
}

// An attribute of another ONNX type than the spec's, as a hand-edited or foreign model may hold.
void changeType(OnnxAttribute& a)
{
    if (a.type == OnnxAttribute::Type::kINT)
        a.type = OnnxAttribute::Type::kFLOAT, a.floats = {static_cast<float>(a.ints.at(0))}, a.ints.clear();
    else
    {
        a.ints = {a.type == OnnxAttribute::Type::kFLOAT ? static_cast<int64_t>(a.floats.at(0)) : 0};
        a.type = OnnxAttribute::Type::kINT, a.floats.clear(), a.strings.clear();
    }
}

// The bytes of a field's data; an engine stores exactly these.
size_t fieldBytes(PluginField const& field)
{
    size_t element = 0;
    switch (field.type)
    {
    case PluginFieldType::kCHAR:
    case PluginFieldType::kINT8:
    case PluginFieldType::kFP8: element = 1; break;
    case PluginFieldType::kFLOAT16:
    case PluginFieldType::kINT16:
    case PluginFieldType::kBF16: element = 2; break;
    case PluginFieldType::kFLOAT32:
    case PluginFieldType::kINT32: element = 4; break;
    case PluginFieldType::kFLOAT64:
    case PluginFieldType::kINT64: element = 8; break;
    case PluginFieldType::kDIMS: element = sizeof(Dims); break;
    default:
        throw CheckFailure("getFieldsToSerialize() returned field '" + std::string(field.name ? field.name : "")
            + "' of PluginFieldType " + std::to_string(static_cast<int32_t>(field.type))
            + ", which the driver cannot copy");
    }
    check(field.length >= 0, "getFieldsToSerialize() returned a negative length");
    check(field.length == 0 || field.data != nullptr, "getFieldsToSerialize() returned a field without data");
    return element * static_cast<size_t>(field.length);
}

// A deep copy of serialised fields, as an engine file holds them after the plugin is gone.
void copyFields(PluginFieldCollection const* fc, Fields& out)
{
    check(fc != nullptr, "getFieldsToSerialize() returned nullptr");
    check(fc->nbFields >= 0 && (fc->nbFields == 0 || fc->fields != nullptr),
        "getFieldsToSerialize() returned a bad collection");
    for (int32_t i = 0; i < fc->nbFields; ++i)
    {
        PluginField const& f = fc->fields[i];
        check(f.name != nullptr, "getFieldsToSerialize() returned a field without a name");
        auto const* data = static_cast<unsigned char const*>(f.data);
        size_t const bytes = fieldBytes(f);
        out.add(f.name, f.type, std::vector<unsigned char>(data, data + bytes), f.length);
    }
}

bool sameFields(std::vector<PluginField> const& a, PluginFieldCollection const* b)
{
    if (b == nullptr || static_cast<size_t>(b->nbFields) != a.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
    {
        PluginField const& x = a[i];
        PluginField const& y = b->fields[i];
        if (y.name == nullptr || std::strcmp(x.name, y.name) != 0 || x.type != y.type || x.length != y.length)
            return false;
        size_t const bytes = fieldBytes(x);
        if (bytes > 0 && std::memcmp(x.data, y.data, bytes) != 0)
            return false;
    }
    return true;
}

// --- logging -----------------------------------------------------------------------------

// The messages of one step that may refuse (begin() starts it): refused() requires exactly one
// error naming the plugin; none() and begin() that the steps since the last begin() logged no error.
class LogWindow
{
public:
    // A new case: what an earlier one logged (its refusal) is done with.
    explicit LogWindow(std::string const& pluginName)
        : mPrefix(std::string(kPluginNamespace) + "::" + pluginName + ": ")
    {
        vfi_lifecycle::finderLogger().clear();
    }

    void begin() const
    {
        none("a step that succeeded");
        vfi_lifecycle::finderLogger().clear();
    }

    [[noreturn]] void refused(std::string const& step) const
    {
        auto const& messages = vfi_lifecycle::finderLogger().messages();
        check(messages.size() == 1,
            step + " failed and logged " + std::to_string(messages.size()) + " messages; expected exactly one");
        LogMessage const& m = messages.front();
        check(m.severity == ILogger::Severity::kERROR, step + " failed and logged a message that is not an error");
        check(m.text.rfind(mPrefix, 0) == 0 && m.text.size() > mPrefix.size(),
            step + " failed and logged '" + m.text + "', which does not start with '" + mPrefix + "'");
        throw Refusal{m.text};
    }

    // Nothing went wrong so far: no error logged.
    void none(std::string const& step) const
    {
        for (LogMessage const& m : vfi_lifecycle::finderLogger().messages())
            check(m.severity != ILogger::Severity::kERROR && m.severity != ILogger::Severity::kINTERNAL_ERROR,
                step + " succeeded but logged '" + m.text + "'");
    }

private:
    using LogMessage = vfi_lifecycle::LogMessage;
    std::string mPrefix;
};

void checkNoProblems(std::vector<std::string> const& problems, std::string const& step)
{
    if (!problems.empty())
        throw CheckFailure(step + ": " + problems.front());
}

// --- tensors -----------------------------------------------------------------------------

DataType dataTypeOf(Case const& c)
{
    return c.dtype == "f16" ? DataType::kHALF : DataType::kFLOAT;
}

// The inputs the plugin gets: the present ones. vfi writes a node without its trailing absent
// optional inputs (vfi/export/onnx.py op_model); an absent one before a present one would reach
// the plugin as a null tensor (the parser's addPluginWithCreator), which no vfi op has.
std::vector<Tensor const*> pluginInputs(Case const& c)
{
    std::vector<Tensor const*> inputs;
    bool absentSeen = false;
    for (Tensor const& t : c.inputs)
    {
        if (!t.present)
        {
            absentSeen = true;
            continue;
        }
        if (absentSeen)
            throw std::runtime_error(c.path + ": an absent input before a present one");
        inputs.push_back(&t);
    }
    return inputs;
}

Dims dimsOf(Tensor const& t)
{
    Dims d{};
    d.nbDims = 4;
    for (int i = 0; i < 4; ++i)
        d.d[i] = t.shape[i];
    return d;
}

// How a network sees the tensor while building: N, H and W unknown (-1), C known.
Dims buildTimeDims(Tensor const& t)
{
    Dims d = dimsOf(t);
    d.d[0] = d.d[2] = d.d[3] = -1;
    return d;
}

DynamicPluginTensorDesc dynamicDesc(Tensor const& t, DataType type)
{
    DynamicPluginTensorDesc desc{};
    desc.desc = PluginTensorDesc{buildTimeDims(t), type, TensorFormat::kLINEAR, 1.0F};
    desc.min = desc.opt = desc.max = dimsOf(t);
    return desc;
}

// The inputs' dimension expressions: N, H, W symbols; C a constant where the network knows it
// (every vfi network's channel counts are fixed), else a symbol as in the single-node models whose
// inputs are all dynamic. Each dimension of each input is its own symbol, as TensorRT knows no
// relation between them.
std::vector<DimsExprs> inputExpressions(ExprBuilder& builder, std::vector<Tensor const*> const& inputs, bool constantC)
{
    std::vector<DimsExprs> exprs(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i)
    {
        exprs[i].nbDims = 4;
        for (int d = 0; d < 4; ++d)
        {
            int64_t const size = inputs[i]->shape[d];
            exprs[i].d[d] = d == 1 && constantC ? builder.makeConstant(size)
                                                : builder.makeSymbol(inputs[i]->name + "." + "NCHW"[d], size);
        }
    }
    return exprs;
}

void checkOutputShape(ExprBuilder& builder, DimsExprs const& output, Tensor const& expected, bool constantC)
{
    check(output.nbDims == 4, "getOutputShapes gave rank " + std::to_string(output.nbDims) + ", expected 4");
    for (int d = 0; d < 4; ++d)
    {
        std::string const where = std::string("getOutputShapes: output dimension ") + "NCHW"[d];
        Expression const* e = builder.own(output.d[d]);
        check(e != nullptr, where + " is not an expression of the IExprBuilder (nullptr or made elsewhere)");
        check(e->value() == expected.shape[d],
            where + " = " + e->text() + " = " + std::to_string(e->value()) + ", expected "
                + std::to_string(expected.shape[d]));
        if (constantC)
            check(e->isConstant() == (d == 1),
                where + " = " + e->text()
                    + (d == 1 ? " must be the constant channel count" : " must follow the inputs, not be a constant"));
    }
}

// --- the lifecycle --------------------------------------------------------------------------

struct PluginDeleter
{
    void operator()(IPluginV3* plugin) const { delete plugin; }
};
using PluginPtr = std::unique_ptr<IPluginV3, PluginDeleter>;

struct Capabilities
{
    IPluginV3OneCore* core;
    IPluginV3OneBuild* build;
    IPluginV3OneRuntime* runtime;
};

bool kindIs(IVersionedInterface const& i, char const* kind, int32_t major)
{
    InterfaceInfo const info = i.getInterfaceInfo();
    return info.kind != nullptr && std::strcmp(info.kind, kind) == 0 && info.major == major;
}

// A plugin of the build phase must have kCORE, kBUILD and kRUNTIME, one of the runtime phase
// kCORE and kRUNTIME (getCapabilityInterface, NvInferPluginBase.h); build is nullptr for the latter.
Capabilities capabilities(
    IPluginV3& plugin, vfi_lifecycle::CreatorIdentity const& identity, std::string const& what, TensorRTPhase phase)
{
    check(kindIs(plugin, "PLUGIN", 1), what + " is not an IPluginV3");
    check(plugin.getAPILanguage() == APILanguage::kCPP, what + " does not say it is a C++ plugin");
    IPluginCapability* core = plugin.getCapabilityInterface(PluginCapabilityType::kCORE);
    IPluginCapability* runtime = plugin.getCapabilityInterface(PluginCapabilityType::kRUNTIME);
    check(core != nullptr && runtime != nullptr, what + ": getCapabilityInterface(kCORE or kRUNTIME) returned nullptr");
    // TensorRT casts each capability by the kind and version it reports.
    check(kindIs(*core, "PLUGIN_V3ONE_CORE", 1), what + ": the kCORE capability is not IPluginV3OneCore");
    check(kindIs(*runtime, "PLUGIN_V3ONE_RUNTIME", 1), what + ": the kRUNTIME capability is not IPluginV3OneRuntime");
    IPluginV3OneBuild* buildV1 = nullptr;
    if (phase == TensorRTPhase::kBUILD)
    {
        IPluginCapability* build = plugin.getCapabilityInterface(PluginCapabilityType::kBUILD);
        check(build != nullptr, what + ": getCapabilityInterface(kBUILD) returned nullptr");
        bool const buildV2 = kindIs(*build, "PLUGIN_V3ONE_BUILD", 2);
        check(buildV2 || kindIs(*build, "PLUGIN_V3ONE_BUILD", 1),
            what + ": the kBUILD capability is neither IPluginV3OneBuild nor IPluginV3OneBuildV2");
        buildV1 = buildV2 ? static_cast<IPluginV3OneBuildV2*>(build) : static_cast<IPluginV3OneBuild*>(build);
    }
    Capabilities c{static_cast<IPluginV3OneCore*>(core), buildV1, static_cast<IPluginV3OneRuntime*>(runtime)};
    auto same = [](std::string const& expected, char const* actual) { return actual != nullptr && expected == actual; };
    check(same(identity.name, c.core->getPluginName()) && same(identity.version, c.core->getPluginVersion())
            && same(identity.pluginNamespace, c.core->getPluginNamespace()),
        what + ": its name, version or namespace differs from its creator's");
    return c;
}

PluginPtr createPlugin(IPluginCreatorV3One& creator, std::string const& name, Fields& fields, TensorRTPhase phase)
{
    return PluginPtr(creator.createPlugin(name.c_str(), fields.collection(), phase));
}

// Position by position, earlier positions fixed to an accepted combination and later ones holding
// values TensorRT calls invalid (a combination the plugin does not accept, so looking at them
// shows): exactly linear fp32 or fp16 at position 0, and then exactly that type, linear.
void checkFormatCombinations(IPluginV3OneBuild& build, std::vector<DynamicPluginTensorDesc> descs, int32_t nbInputs)
{
    int32_t const total = static_cast<int32_t>(descs.size());
    for (DataType const chosen : {DataType::kFLOAT, DataType::kHALF})
    {
        for (int32_t pos = 0; pos < total; ++pos)
        {
            for (int32_t later = pos + 1; later < total; ++later)
                descs[later].desc.type = DataType::kINT8, descs[later].desc.format = TensorFormat::kCHW32;
            for (int32_t t = 0; t < EnumMax<DataType>(); ++t)
            {
                for (int32_t f = 0; f < EnumMax<TensorFormat>(); ++f)
                {
                    auto const type = static_cast<DataType>(t);
                    auto const format = static_cast<TensorFormat>(f);
                    descs[pos].desc.type = type;
                    descs[pos].desc.format = format;
                    bool const expected = format == TensorFormat::kLINEAR
                        && (pos == 0 ? (type == DataType::kFLOAT || type == DataType::kHALF) : type == chosen);
                    bool const supported
                        = build.supportsFormatCombination(pos, descs.data(), nbInputs, total - nbInputs);
                    check(supported == expected,
                        "supportsFormatCombination(pos " + std::to_string(pos) + ", DataType " + std::to_string(t)
                            + ", TensorFormat " + std::to_string(f) + ") = " + (supported ? "true" : "false")
                            + " with position 0 of DataType " + std::to_string(static_cast<int32_t>(chosen)));
                }
            }
            descs[pos].desc.type = chosen;
            descs[pos].desc.format = TensorFormat::kLINEAR;
        }
    }
}

struct Target
{
    IPluginCreatorV3One* creator;
    vfi_lifecycle::CreatorIdentity identity;
};

// The creator of the case's op, looked up as the parser's importPluginCreator() does:
// getCreator(op type, plugin_version, plugin_namespace).
Target findCreator(Case const& c)
{
    int32_t count = 0;
    IPluginCreatorInterface* const* all = vfi_lifecycle::registry().getAllCreators(&count);
    for (int32_t i = 0; i < count; ++i)
    {
        vfi_lifecycle::CreatorIdentity identity;
        if (!vfi_lifecycle::identify(*all[i], identity) || lower(identity.name) != c.op)
            continue;
        IPluginCreatorInterface* creator
            = vfi_lifecycle::registry().getCreator(identity.name.c_str(), kPluginVersion, kPluginNamespace);
        check(creator == all[i], "getCreator(\"" + identity.name + "\", \"1\", \"vfi\") does not find the creator");
        return Target{static_cast<IPluginCreatorV3One*>(creator), identity};
    }
    throw std::runtime_error(c.path + ": no creator for op '" + c.op + "' in the plugin library");
}

void runCase(Case& c, Invalid invalid)
{
    Target const target = findCreator(c);
    IPluginCreatorV3One& creator = *target.creator;
    std::string const& name = target.identity.name;
    std::string const nodeName = c.path.substr(c.path.rfind('/') + 1);
    DataType const type = dataTypeOf(c);
    std::vector<Tensor const*> const inputs = pluginInputs(c);
    int32_t const nbInputs = static_cast<int32_t>(inputs.size());

    // create
    PluginFieldCollection const* declared = creator.getFieldNames();
    check(declared != nullptr && declared->nbFields >= 0 && (declared->nbFields == 0 || declared->fields != nullptr),
        name + ": getFieldNames() returned a bad collection");
    std::vector<OnnxAttribute> attributes = nodeAttributes(c);
    for (OnnxAttribute const& a : attributes)
    {
        if (a.name == "plugin_version" || a.name == "plugin_namespace")
            continue;
        auto field = std::find_if(declared->fields, declared->fields + declared->nbFields,
            [&](PluginField const& f) { return f.name != nullptr && a.name == f.name; });
        // The parser passes declared fields only: an undeclared attribute would be dropped silently.
        check(field != declared->fields + declared->nbFields,
            name + ": attribute '" + a.name + "' is not declared by getFieldNames(), so the ONNX parser would drop it");
        check(field->type == parserFieldType(a.type),
            name + ": getFieldNames() declares '" + a.name + "' as PluginFieldType "
                + std::to_string(static_cast<int32_t>(field->type)) + ", but the parser passes it as "
                + std::to_string(static_cast<int32_t>(parserFieldType(a.type))));
    }
    if (invalid == Invalid::kFieldType)
    {
        check(!c.attributes.empty(), c.path + ": --invalid field-type needs an op with attributes");
        changeType(attributes.front());
    }
    auto fields = std::make_unique<Fields>();
    onnxAttributeFields(*declared, attributes, *fields);
    if (invalid == Invalid::kUnknownField)
        fields->add("bogus", PluginFieldType::kINT32, bytesOf(std::vector<int32_t>{1}), 1);

    LogWindow const log(name);
    log.begin();
    PluginPtr plugin = createPlugin(creator, nodeName, *fields, TensorRTPhase::kBUILD);
    // The parser's field storage ends with addPluginWithCreator: the plugin keeps copies or nothing.
    fields.reset();
    if (!plugin)
        log.refused("createPlugin");
    check(invalid != Invalid::kFieldType && invalid != Invalid::kUnknownField,
        "createPlugin accepted the broken fields of --invalid");
    log.none("createPlugin");
    Capabilities const build = capabilities(*plugin, target.identity, "the build plugin", TensorRTPhase::kBUILD);

    // build
    check(build.build->getNbOutputs() == 1, name + ": getNbOutputs() != 1");
    std::vector<DataType> const inputTypes(inputs.size(), type);
    DataType outputType = DataType::kINT8;
    check(build.build->getOutputDataTypes(&outputType, 1, inputTypes.data(), nbInputs) == 0 && outputType == type,
        name + ": getOutputDataTypes does not give the inputs' type");

    for (bool const constantC : {true, false})
    {
        ExprBuilder builder;
        std::vector<DimsExprs> exprs = inputExpressions(builder, inputs, constantC);
        if (invalid == Invalid::kOutputShapesCount)
            exprs.pop_back();
        if (invalid == Invalid::kOutputShapesRank)
            exprs.front().nbDims = 3;
        // Exactly sized, so that reading past the inputs is an AddressSanitizer report.
        auto outputs = std::make_unique<DimsExprs[]>(1);
        log.begin();
        int32_t const status = build.build->getOutputShapes(
            exprs.data(), static_cast<int32_t>(exprs.size()), nullptr, 0, outputs.get(), 1, builder);
        checkNoProblems(builder.takeProblems(), name + ": getOutputShapes");
        if (status != 0)
            log.refused("getOutputShapes");
        check(invalid != Invalid::kOutputShapesCount && invalid != Invalid::kOutputShapesRank,
            "getOutputShapes accepted the inputs of --invalid");
        log.none("getOutputShapes");
        checkOutputShape(builder, outputs[0], c.output, constantC);
    }

    std::vector<DynamicPluginTensorDesc> in;
    for (Tensor const* t : inputs)
        in.push_back(dynamicDesc(*t, type));
    DynamicPluginTensorDesc const out = dynamicDesc(c.output, type);
    std::vector<DynamicPluginTensorDesc> inOut = in;
    inOut.push_back(out);
    checkFormatCombinations(*build.build, inOut, nbInputs);
    check(build.build->configurePlugin(in.data(), nbInputs, &out, 1) == 0, name + ": configurePlugin failed");
    size_t const workspaceBytes = build.build->getWorkspaceSize(in.data(), nbInputs, &out, 1);
    check(build.build->getNbTactics() == 0, name + ": getNbTactics() != 0 (the vfi plugins have one tactic)");

    std::vector<PluginTensorDesc> inDescs;
    for (Tensor const* t : inputs)
        inDescs.push_back(PluginTensorDesc{dimsOf(*t), type, TensorFormat::kLINEAR, 1.0F});
    if (invalid == Invalid::kShapeChange)
    {
        check(inDescs.size() >= 2, "--invalid shape-change needs two inputs");
        inDescs[1].dims.d[3] += 1;
    }
    PluginTensorDesc const outDesc{dimsOf(c.output), type, TensorFormat::kLINEAR, 1.0F};
    // TensorRT times the build plugin at the profile's shapes.
    log.begin();
    if (build.runtime->onShapeChange(inDescs.data(), nbInputs, &outDesc, 1) != 0)
        log.refused("onShapeChange");
    check(invalid == Invalid::kNone, "onShapeChange accepted the shapes of --invalid");
    log.none("build");

    {
        IPluginV3* const cloned = plugin->clone();
        check(cloned != nullptr && cloned != plugin.get(), name + ": clone() returned nullptr or itself");
        PluginPtr copy(cloned);
        Capabilities const clone = capabilities(*copy, target.identity, "the clone", TensorRTPhase::kBUILD);
        Fields original;
        copyFields(build.runtime->getFieldsToSerialize(), original);
        check(sameFields(original.fields(), clone.runtime->getFieldsToSerialize()),
            name + ": the clone serialises to other fields");
    }

    // serialise, deserialise
    Fields serialised;
    copyFields(build.runtime->getFieldsToSerialize(), serialised);
    auto engine = std::make_unique<Fields>();
    copyFields(build.runtime->getFieldsToSerialize(), *engine);
    log.begin();
    PluginPtr runtimePlugin = createPlugin(creator, nodeName, *engine, TensorRTPhase::kRUNTIME);
    engine.reset(); // as TensorRT frees the engine's field data after deserialising
    check(runtimePlugin != nullptr, name + ": createPlugin(kRUNTIME) refused its own serialised fields");
    Capabilities const deserialised
        = capabilities(*runtimePlugin, target.identity, "the runtime plugin", TensorRTPhase::kRUNTIME);
    check(sameFields(serialised.fields(), deserialised.runtime->getFieldsToSerialize()),
        name + ": the plugin created from the serialised fields serialises to other fields");

    // run
    vfi_lifecycle::ResourceContext context;
    IPluginV3* const attachedPlugin = deserialised.runtime->attachToContext(&context);
    // Not owned before the check: the plugin itself would be deleted twice.
    check(attachedPlugin != nullptr && attachedPlugin != runtimePlugin.get(),
        name + ": attachToContext returned nullptr or the plugin itself instead of a clone");
    PluginPtr contextPlugin(attachedPlugin);
    Capabilities const attached
        = capabilities(*contextPlugin, target.identity, "the attached plugin", TensorRTPhase::kRUNTIME);
    check(attached.runtime->onShapeChange(inDescs.data(), nbInputs, &outDesc, 1) == 0,
        name + ": onShapeChange of the runtime plugin refused the shapes the build plugin accepted");
    check(attached.runtime->setTactic(0) == 0, name + ": setTactic(0) failed");
    std::vector<void const*> inputData;
    for (Tensor const* t : inputs)
        inputData.push_back(t->data.get());
    void* const outputData = c.output.data.get();
    // Exactly the size asked for (none when 0), so that a larger use is an AddressSanitizer report.
    std::unique_ptr<unsigned char[]> workspace(workspaceBytes > 0 ? new unsigned char[workspaceBytes] : nullptr);
    int32_t const status = attached.runtime->enqueue(
        inDescs.data(), &outDesc, inputData.data(), &outputData, workspace.get(), nullptr);
    check(status == 0, name + ": enqueue failed after onShapeChange accepted the shapes");
    log.none("enqueue");
}

Invalid invalidMode(std::string const& name)
{
    if (name == "field-type")
        return Invalid::kFieldType;
    if (name == "unknown-field")
        return Invalid::kUnknownField;
    if (name == "output-shapes-count")
        return Invalid::kOutputShapesCount;
    if (name == "output-shapes-rank")
        return Invalid::kOutputShapesRank;
    if (name == "shape-change")
        return Invalid::kShapeChange;
    throw std::invalid_argument("--invalid must be field-type, unknown-field, output-shapes-count, "
                                "output-shapes-rank or shape-change, got '" + name + "'");
}

// loadLibrary's checks: the load-time registration of every creator withdrawn by getCreators,
// which then registers each of them once, as vfi::<Name> version 1.
void* loadPluginLibrary(std::string const& path)
{
    vfi_lifecycle::TestRegistry& registry = vfi_lifecycle::registry();
    void* handle = registry.loadLibrary(path.c_str());
    checkNoProblems(registry.takeProblems(), "loadLibrary(" + path + ")");
    check(handle != nullptr, "loadLibrary(" + path + ") failed");
    size_t loadTime = 0, withdrawn = 0, registered = 0;
    for (vfi_lifecycle::RegistryEvent const& e : registry.events())
    {
        if (e.duringLoad)
            loadTime += e.registered;
        else if (!e.registered)
            ++withdrawn;
        else
        {
            ++registered;
            check(e.pluginNamespace == kPluginNamespace && e.version == kPluginVersion,
                "getCreators returned " + e.pluginNamespace + "::" + e.name + " version " + e.version);
        }
    }
    check(loadTime > 0, "the library registered no creator when it was loaded (a plain dlopen would find none)");
    check(withdrawn == loadTime, "getCreators withdrew " + std::to_string(withdrawn) + " of the "
        + std::to_string(loadTime) + " load-time registrations");
    check(registered == loadTime, "getCreators returned " + std::to_string(registered)
            + " creators, the library registered " + std::to_string(loadTime) + " when loaded");
    int32_t count = 0;
    registry.getAllCreators(&count);
    check(static_cast<size_t>(count) == registered, "the registry holds creators other than getCreators'");
    return handle;
}

std::string oneLine(std::string text)
{
    std::replace_if(text.begin(), text.end(), [](char ch) { return ch == '\t' || ch == '\n' || ch == '\r'; }, ' ');
    return text;
}

} // namespace

int main(int argc, char** argv)
{
    std::string library = VFI_LIFECYCLE_PLUGINS;
    Invalid invalid = Invalid::kNone;
    int first = 1;
    try
    {
        while (first + 1 < argc && argv[first][0] == '-')
        {
            std::string const option = argv[first];
            if (option == "--plugins")
                library = argv[first + 1];
            else if (option == "--invalid")
                invalid = invalidMode(argv[first + 1]);
            else
                throw std::invalid_argument("unknown option " + option);
            first += 2;
        }
        if (first >= argc)
            throw std::invalid_argument("no case given");
    }
    catch (std::exception const& e)
    {
        std::fprintf(stderr,
            "vfi_trt_lifecycle: %s\nusage: vfi_trt_lifecycle [--plugins LIBRARY] [--invalid MODE] CASE...\n", e.what());
        return 2;
    }

    std::string step = "loading " + library;
    try
    {
        void* handle = loadPluginLibrary(library);
        for (int i = first; i < argc; ++i)
        {
            step = argv[i];
            Case c = vfi_case::readCase(argv[i]);
            try
            {
                runCase(c, invalid);
                vfi_case::writeOutput(c);
                std::printf("%s\tok\n", argv[i]);
            }
            catch (Refusal const& refusal)
            {
                std::printf("%s\terror\t%s\n", argv[i], oneLine(refusal.message).c_str());
            }
            std::fflush(stdout);
        }
        step = "unloading " + library;
        vfi_lifecycle::registry().deregisterLibrary(handle);
        checkNoProblems(vfi_lifecycle::registry().takeProblems(), "deregisterLibrary");
        int32_t count = 0;
        vfi_lifecycle::registry().getAllCreators(&count);
        check(count == 0, "creators are still registered after deregisterLibrary");
        check(vfi_lifecycle::globalLogger().messages().empty(),
            "the library logged through getLogger() although setLoggerFinder gave it a logger");
    }
    catch (CheckFailure const& failure)
    {
        std::fprintf(stderr, "vfi_trt_lifecycle: lifecycle check failed (%s): %s\n", step.c_str(), failure.what());
        return 1;
    }
    catch (std::exception const& e)
    {
        std::fprintf(stderr, "vfi_trt_lifecycle: %s: %s\n", step.c_str(), e.what());
        return 2;
    }
    return 0;
}
