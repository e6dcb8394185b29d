// Writes the seed corpora of the fuzz targets: small valid inputs of every kind each parser reads,
// made with the same helpers the unit tests make their files with. Run it when a format grows:
//   build-fuzz/test/fuzz/fuzz-make-seeds test/fuzz/corpus
// It writes <dir>/<target>/seed-<name> and leaves the crash-* regression inputs there alone.
#include <png.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "image/make_images.h"
#include "kiln/runtime/program.h"
#include "kiln/image/codec.h"
#include "kiln/io/checkpoint.h"
#include "kiln/io/safetensors.h"
#include "kiln/nn/model_file.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/models.h"
#include "kiln/runtime/export.h"
#include "kiln/train/run_files.h"
#include "resume_program.h"
#include "run_records.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

fs::path root;

void seed(const std::string& target, const std::string& name, const Bytes& bytes) {
    write_bytes((root / target / ("seed-" + name)).string(), bytes);
}
void seed(const std::string& target, const std::string& name, const std::string& text) {
    seed(target, name, Bytes(text.begin(), text.end()));
}

Bytes read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

Bytes gzip(const Bytes& in) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    Bytes out(deflateBound(&z, uLong(in.size())) + 32);
    z.next_in = const_cast<Bytef*>(in.data()), z.avail_in = uInt(in.size());
    z.next_out = out.data(), z.avail_out = uInt(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

// ---- idx: flags, u32 length of the images file, the images file, the labels file ----
Bytes idx_file(int dims, std::vector<uint32_t> sizes, const Bytes& data) {
    Bytes b{0, 0, 8, uint8_t(dims)};
    for (uint32_t s : sizes)
        for (int k = 24; k >= 0; k -= 8) b.push_back(uint8_t(s >> k));
    b.insert(b.end(), data.begin(), data.end());
    return b;
}
Bytes idx_input(uint8_t flags, const Bytes& images, const Bytes& labels) {
    Bytes b{flags};
    for (int k = 0; k < 32; k += 8) b.push_back(uint8_t(images.size() >> k));
    b.insert(b.end(), images.begin(), images.end());
    b.insert(b.end(), labels.begin(), labels.end());
    return b;
}
void idx_seeds() {
    const Bytes pixels{0, 50, 100, 150, 200, 250, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const Bytes images = idx_file(3, {3, 2, 3}, pixels), labels = idx_file(1, {3}, {0, 1, 2});
    seed("idx", "raw", idx_input(2, images, labels));
    seed("idx", "raw-transposed", idx_input(3, images, labels));
    seed("idx", "gz", idx_input(0, gzip(images), gzip(labels)));
    seed("idx", "gz-fashion", idx_input(4, gzip(images), labels));
    seed("idx", "count", idx_input(6, images, idx_file(1, {3}, {9, 0, 4})));
}

// ---- png, jpeg: files of every colour type the decoders handle ----
void image_seeds() {
    std::vector<uint16_t> grey(6 * 5), rgb(6 * 5 * 3), rgba(6 * 5 * 4), idx(6 * 5);
    for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint16_t(i * 8), idx[i] = uint16_t(i % 4);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint16_t(i * 3 % 256);
    for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = uint16_t(i * 5 % 256);
    seed("png", "grey8", make_png({6, 5, PNG_COLOR_TYPE_GRAY, 8, grey}));
    std::vector<uint16_t> grey16(grey);
    for (uint16_t& v : grey16) v = uint16_t(v * 257);
    seed("png", "grey16", make_png({6, 5, PNG_COLOR_TYPE_GRAY, 16, grey16}));
    std::vector<uint16_t> bits(grey.size());
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = uint16_t(i & 1);
    seed("png", "grey1", make_png({6, 5, PNG_COLOR_TYPE_GRAY, 1, bits}));
    seed("png", "rgb8", make_png({6, 5, PNG_COLOR_TYPE_RGB, 8, rgb}));
    seed("png", "rgba8", make_png({6, 5, PNG_COLOR_TYPE_RGBA, 8, rgba}));
    PngSpec palette(6, 5, PNG_COLOR_TYPE_PALETTE, 2, idx, {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9});
    palette.trns = {0, 128};
    seed("png", "palette-trns", make_png(palette));
    PngSpec interlaced(6, 5, PNG_COLOR_TYPE_RGB, 8, rgb);
    interlaced.interlaced = true;
    seed("png", "interlaced", make_png(interlaced));

    TempDir dir;
    const kiln::image::Image colour{5, 6, 3, Bytes(rgb.begin(), rgb.end())};
    const kiln::image::Image mono{5, 6, 1, Bytes(grey.begin(), grey.end())};
    kiln::image::write_jpeg(dir / "c.jpg", kiln::image::view(colour), {90});
    kiln::image::write_jpeg(dir / "g.jpg", kiln::image::view(mono), {75});
    seed("jpeg", "rgb", read_bytes(dir / "c.jpg"));
    seed("jpeg", "grey", read_bytes(dir / "g.jpg"));
    Bytes cmyk(6 * 5 * 4);
    for (size_t i = 0; i < cmyk.size(); ++i) cmyk[i] = uint8_t(i * 11);
    seed("jpeg", "cmyk-adobe", make_cmyk_jpeg(6, 5, cmyk, true));
    seed("jpeg", "cmyk", make_cmyk_jpeg(6, 5, cmyk, false));
}

// ---- safetensors, resume: files kiln writes, and one as PyTorch writes it ----
void safetensors_seeds() {
    TempDir dir;
    using kiln::io::NamedTensor;
    const std::vector<NamedTensor> tensors = {
        {"w", kiln::DType::f32, {2, 3}, Bytes(24, 0x3f)}, {"n", kiln::DType::i64, {}, Bytes(8, 1)},
        {"i", kiln::DType::i32, {2}, Bytes(8, 2)},        {"u", kiln::DType::u8, {3, 1}, Bytes{1, 2, 3}}};
    kiln::io::save_safetensors(dir / "a.safetensors", tensors, {{"format", "pt"}});
    seed("safetensors", "kiln", read_bytes(dir / "a.safetensors"));
    kiln::io::save_safetensors(dir / "e.safetensors", {}, {});
    seed("safetensors", "empty", read_bytes(dir / "e.safetensors"));
    // As safetensors.torch.save_file lays it out (test/io/test_safetensors.cpp has the bytes' story).
    const std::string header = R"({"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                               R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
    Bytes torch;
    for (int k = 0; k < 64; k += 8) torch.push_back(uint8_t(header.size() >> k));
    torch.insert(torch.end(), header.begin(), header.end());
    torch.resize(torch.size() + 16, 0);
    seed("safetensors", "torch", torch);

    auto p = kiln::fuzz::resume_program();
    kiln::train::TrainState state;
    state.epoch = 2, state.batch = 3, state.seen = 6, state.correct = 4, state.best_epoch = 1, state.loss_sum = 4.5;
    kiln::io::StateOptions o;
    o.optimizer = true;
    o.metadata = kiln::train::state_metadata(state);
    kiln::io::save_state(*p, dir / "last.safetensors", o);
    seed("resume", "last", read_bytes(dir / "last.safetensors"));
    seed("safetensors", "last", read_bytes(dir / "last.safetensors"));
    kiln::io::save_state(*p, dir / "best.safetensors");
    seed("resume", "model-only", read_bytes(dir / "best.safetensors"));
}

// ---- model descriptions: the course's models, and one of every layer type ----
void model_json_seeds(const fs::path& source) {
    for (const char* f : {"tinyvgg.json", "resnet_mini.json"}) seed("model-json", f, read_bytes((source / "test/nn" / f).string()));
    for (const kiln::nn::BuiltinModel& builtin : kiln::nn::builtin_models()) {
        const std::string name = builtin.name;
        seed("model-json", "name-" + name, name);
        kiln::nn::ModelSpec spec = kiln::nn::parse_model(name, "seed");
        spec.input_shape = {1, 8, 8};
        spec.class_names = {"a", "b", "c"};
        spec.eval_transforms = "to_tensor";
        spec.input_statistics = {.samples = 100, .height = 8, .width = 8, .channels = 1, .mean = {0.3}, .std = {0.35},
                                 .border = 0.01, .brightness = {0.1, 0.6}, .contrast = {0.1, 0.45}, .border_range = {0, 0.05}};
        seed("model-json", "builtin-" + name, kiln::nn::to_json(spec));
    }
    seed("model-json", "every-layer", std::string(R"({"layers": [
  {"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": [3, 2], "stride": 1, "padding": "same",
   "dilation": [1, 2], "bias": false},
  {"type": "BatchNorm2d", "num_features": 4, "momentum": null, "eps": 0.001},
  {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2, "ceil_mode": true},
  {"type": "AvgPool2d", "kernel_size": 2, "stride": 1, "padding": 1, "count_include_pad": false},
  {"name": "block", "type": "Sequential", "layers": [
    {"type": "Residual", "activation": "Tanh", "branch": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1}],
     "shortcut": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1, "padding": "valid"}]}]},
  {"type": "GlobalAvgPool2d"}, {"type": "Dropout", "p": 0.25}, {"type": "Sigmoid"},
  {"type": "Linear", "in_features": 4, "out_features": 6}, {"type": "BatchNorm1d"},
  {"type": "Flatten", "start_dim": 1}, {"type": "Linear", "out_features": "classes", "bias": false}],
 "input_shape": [1, 8, 8], "class_names": ["x", "y", "z"], "eval_transforms": "to_tensor"})"));
}

// ---- dataset specs (run in fuzz_dataset_spec.cpp's sandbox) and transform pipelines ----
void text_seeds() {
    for (const char* s : {"idx:.", "idx:dir=.,split=train,classes=3,transpose=yes", "idx:images=train-images-idx3-ubyte,labels=train-labels-idx1-ubyte",
                          "imagefolder:folder", "imagefolder:folder,mode=grey,on_error=skip,max_pixels=100",
                          "synthetic:blobs,n=10,centers=3,features=2,std=1,box=10,seed=1", "synthetic:circles,n=20,noise=0.1,factor=0.5",
                          "synthetic:line,n=5"})
        seed("dataset-spec", std::string(s).substr(0, std::string(s).find(':')) + "-" + std::to_string(std::hash<std::string>{}(s) % 1000), s);
    const std::string seed_bytes(8, '\x2a');
    for (const char* p : {"to_tensor", "resize=16x12;center_crop=8;to_tensor;normalize=mean=0.5,std=0.2",
                          "random_crop=4,padding=2;random_horizontal_flip=p=0.5;random_vertical_flip;to_tensor",
                          "trivial_augment_wide;resize=10", "random_rotation=30;grayscale;to_tensor",
                          "resize=5;random_crop=4,padding=1,padding_mode=reflect;to_tensor;normalize=mean=0.1,0.2,0.3,std=1,2,3"})
        seed("transforms", std::to_string(std::hash<std::string>{}(p) % 1000), seed_bytes + p);
}

// ---- plugin samples: answers of a well-behaved plugin (see fuzz_plugin_sample.cpp) ----
void plugin_sample_seeds() {
    // batch (1 → 2), stop on bad samples, then length (4 → 3 samples), classes (4 → 3), the
    // declared shape (u8, rank 3, 2×2×1) and its status OK; then per get(): the status (the first
    // asks for a buffer: capacity), 4 bytes needed, u8 rank 3 2×2×1, and the label (byte − 1).
    Bytes b{1, 0, 4, 4, 0, 4, 2, 2, 1, 0, 0};
    for (int call = 0; call < 12; ++call) {
        const Bytes get{uint8_t(call == 0 ? KILN_ERR_CAPACITY : KILN_OK), 4, 0, 4, 2, 2, 1, 0, uint8_t(1 + call % 3)};
        b.insert(b.end(), get.begin(), get.end());
    }
    seed("plugin-sample", "well-behaved", b);
}

// ---- micro programs: a flag byte (bit 0: the target reseals the checksum), then a program as
// kiln-export writes it — inference and training (SGD with momentum) of test/micro's small
// network: conv → batch norm → relu → max pool → linear (parameters, f32 and i64 buffers) ----
void micro_program_seeds() {
    for (const bool train : {false, true}) {
        kiln::Graph g(7);
        const kiln::Value x = g.input("x", {2, 2, 6, 6});
        kiln::Value h = kiln::nn::conv2d(g, "conv", x, 4, {.kernel = 3, .padding = 1});
        h = g.relu(kiln::nn::batch_norm(g, "bn", h));
        h = g.flatten(kiln::nn::max_pool2d(g, h, 2));
        const kiln::Value logits = kiln::nn::linear(g, "fc", h, 3);
        kiln::CompileOptions o;
        o.outputs = {logits};
        o.backend_options.reference = true;  // export_program needs the device's kernels' plan
        o.backend_options.threads = 1;
        kiln::ExportOptions e;
        e.input = x, e.output = logits, e.model_name = "small";
        e.class_names = {"zero", "one", "two"};
        e.mean = {0.5f, 0.25f}, e.std = {0.5f, 2.0f};
        if (train) {
            e.labels = g.input("y", {2}, kiln::DType::i64);
            o.loss = g.cross_entropy(logits, e.labels);
            o.optimizer = kiln::SGD{.lr = 0.05f, .momentum = 0.9f};
        }
        const Bytes program = kiln::export_program(*kiln::compile(g, o), e);
        for (const uint8_t flags : {0, 1}) {
            Bytes b{flags};
            b.insert(b.end(), program.begin(), program.end());
            seed("micro-program", std::string(train ? "training" : "inference") + (flags & 1 ? "-reseal" : ""), b);
        }
    }
}

// ---- run files (tools/run_records.h): a flag byte (bit 0: evaluation.json), then the file ----
void run_files_seeds() {
    const kiln::tools::TrainingFacts f{.model = "tinyvgg", .parameters = 7740, .data = "idx:/usr/share/datasets/fashion-mnist",
                                       .validation = "a seeded 10 % of the training data", .train_samples = 900,
                                       .valid_samples = 100, .classes = 10, .device = "cpu", .ranks = 1, .epochs = 2,
                                       .monitor = "valid_loss", .started = "2026-12-08 02:00:00 UTC",
                                       .updated = "2026-12-08 02:01:00 UTC", .status = "completed", .message = ""};
    seed("run-files", "training", "\x00" + kiln::tools::training_facts_json(f));
    seed("run-files", "evaluation", std::string("\x01") + R"({"data": "idx:x,split=test", "weights": "run/best.safetensors", "device": "cpu",
 "samples": 3, "accuracy": 0.6667, "loss": 0.71, "classes": ["a", "b"], "confusion": [[1, 1], [0, 1]],
 "per_class": [{"class": "a", "precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2},
               {"class": "b", "precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}],
 "macro": {"precision": 0.75, "recall": 0.75, "f1": 0.6667}, "misclassified_total": 1,
 "misclassified": [{"index": 1, "true": "a", "predicted": "b"}], "files": []}
)");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR (test/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    try {
        idx_seeds();
        image_seeds();
        safetensors_seeds();
        model_json_seeds(KILN_SOURCE_DIR);
        text_seeds();
        plugin_sample_seeds();
        micro_program_seeds();
        run_files_seeds();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz-make-seeds: %s\n", e.what());
        return 1;
    }
    std::printf("wrote the seeds into %s\n", root.c_str());
    return 0;
}
