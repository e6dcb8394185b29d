// The "transforms" plugin: torchvision's standard transforms behind kiln's C plugin ABI
// (lib/kiln/data/plugin.h), one kiln_transform_api per transform.
//
// Configuration (key=value,key=value; a bare first value sets the key marked *; lists use ':',
// sizes 'x' as H x W; fill is one value for every channel or one per channel):
//   to_tensor                 (none)                u8 H×W×C → f32 C×H×W, v / 255
//   normalize                 mean*=m[:m:m], std=s[:s:s]   f32 C×H×W: (x − mean) / std
//   resize                    size*=N | HxW, max_size=N    N: the shorter side becomes N
//   center_crop               size*=N | HxW
//   random_crop               size*=N | HxW, padding=P | LR:TB | L:T:R:B, fill=0,
//                             pad_if_needed=false, padding_mode=constant|edge|reflect|symmetric
//   random_horizontal_flip    p*=0.5
//   random_vertical_flip      p*=0.5
//   random_rotation           degrees*=D | LO:HI (D: −D..D), interpolation=nearest|bilinear,
//                             expand=false, center=X:Y (pixels; default the image centre), fill=0
//   grayscale                 num_output_channels*=1|3
//   trivial_augment_wide      num_magnitude_bins*=31, interpolation=nearest|bilinear,
//                             fill=none (zeros outside, as torchvision's fill=None)
// e.g. "size=64", "64x48", "mean=0.5:0.5:0.5,std=0.5:0.5:0.5", "32,padding=4".
//
// Every u8 transform takes and gives u8 H×W×C; to_tensor gives f32 C×H×W; normalize takes it.
// Randomness: each apply seeds a kiln::Generator with the sample's seed mixed with the transform's
// name, so a sample's result depends on nothing else (not thread count, not call order), and two
// different transforms given the same seed do not draw the same numbers.
#include <cstring>
#include <memory>
#include <string>

#include "config.h"
#include "kiln/core/rng.h"
#include "kiln/data/plugin.h"
#include "ops.h"

namespace kiln::transforms {

namespace {

constexpr int64_t max_side = 1 << 15;  // largest size a configuration may ask for

void write_error(char* err, size_t err_size, std::string_view message) {
    if (!err || err_size == 0) return;
    const size_t n = std::min(message.size(), err_size - 1);
    std::memcpy(err, message.data(), n);
    err[n] = '\0';
}

uint64_t name_salt(std::string_view name) {  // FNV-1a
    uint64_t h = 0xcbf29ce484222325ull;
    for (char ch : name) h = (h ^ uint8_t(ch)) * 0x100000001b3ull;
    return h;
}

Interpolation interpolation_of(const Config& cfg) {
    return cfg.word("interpolation", "nearest", {"nearest", "bilinear"}) == "bilinear" ? Interpolation::bilinear
                                                                                         : Interpolation::nearest;
}

Fill fill_of(const Config& cfg, Fill fallback) {
    if (!cfg.has("fill")) return fallback;
    Fill fill;
    for (double v : cfg.numbers("fill", ':', {1, 3}, 0, 255)) fill.push_back(float(v));
    return fill;
}

// {h, w} from "N" (a square) or "HxW".
std::array<int64_t, 2> crop_size_of(const Config& cfg) {
    if (!cfg.has("size")) cfg.fail("needs size=N or size=HxW");
    const auto s = cfg.integers("size", 'x', {1, 2}, 1, max_side);
    return {s[0], s.size() == 2 ? s[1] : s[0]};
}

std::string shape_text(const kiln_array& a) {
    std::string s;
    for (int32_t i = 0; i < a.rank && i < 4; ++i) s += (i ? "×" : "") + std::to_string(a.shape[i]);
    return s;
}

// A u8 H×W×C kiln_array copied into an image, or a TransformError saying what is wrong.
void read_image(const kiln_array& src, std::string_view name, ImageU8& img) {
    const std::string who(name);
    if (src.elem != KILN_U8)
        throw TransformError(who + ": expects a u8 H×W×C image but got an f32 tensor (" + shape_text(src) + "); " +
                             (who == "to_tensor" ? "the sample is a tensor already" : "put it before to_tensor"));
    if (src.rank != 3) throw TransformError(who + ": expects a u8 image of rank 3 (H×W×C), got rank " + std::to_string(src.rank));
    for (int i = 0; i < 3; ++i)
        if (src.shape[i] <= 0 || src.shape[i] > (int64_t(1) << 20))
            throw TransformError(who + ": image shape " + shape_text(src) + " is empty or implausibly large");
    if (src.shape[2] > 4) throw TransformError(who + ": image has " + std::to_string(src.shape[2]) + " channels (at most 4)");
    if (!src.data) throw TransformError(who + ": the image has no data");
    img.reshape(src.shape[0], src.shape[1], src.shape[2]);
    std::memcpy(img.px.data(), src.data, img.px.size());
}

kiln_status write_out(const void* data, size_t bytes, kiln_elem elem, std::array<int64_t, 3> shape, kiln_array& dst,
                      size_t capacity, size_t* needed, std::string_view name, std::string& message) {
    if (needed) *needed = bytes;
    if (capacity < bytes || !dst.data) {
        message = std::string(name) + ": the output needs " + std::to_string(bytes) + " bytes, the buffer holds " +
                  std::to_string(capacity);
        return KILN_ERR_CAPACITY;
    }
    std::memcpy(dst.data, data, bytes);
    dst.elem = elem;
    dst.rank = 3;
    for (int i = 0; i < 4; ++i) dst.shape[i] = i < 3 ? shape[size_t(i)] : 0;
    return KILN_OK;
}

class Transform {
public:
    explicit Transform(std::string_view name) : name_(name) {}
    virtual ~Transform() = default;
    virtual kiln_status apply(const kiln_array& src, kiln_array& dst, size_t capacity, size_t* needed, uint64_t seed,
                              std::string& message) const = 0;
    const std::string& name() const { return name_; }

protected:
    uint64_t stream(uint64_t seed) const { return seed ^ name_salt(name_); }

private:
    std::string name_;
};

// u8 H×W×C in, u8 H×W×C out.
class ImageTransform : public Transform {
public:
    using Transform::Transform;
    kiln_status apply(const kiln_array& src, kiln_array& dst, size_t capacity, size_t* needed, uint64_t seed,
                      std::string& message) const final {
        thread_local ImageU8 in, out;  // per worker thread, reused from sample to sample
        read_image(src, name(), in);
        run(in, out, stream(seed));
        return write_out(out.px.data(), out.px.size(), KILN_U8, {out.h, out.w, out.c}, dst, capacity, needed, name(),
                         message);
    }

protected:
    virtual void run(const ImageU8& in, ImageU8& out, uint64_t stream_seed) const = 0;
};

class ToTensor final : public Transform {
public:
    explicit ToTensor(const char* config) : Transform("to_tensor") { (void)Config(name(), config, {}); }
    kiln_status apply(const kiln_array& src, kiln_array& dst, size_t capacity, size_t* needed, uint64_t,
                      std::string& message) const override {
        thread_local ImageU8 in;
        thread_local TensorF32 out;
        read_image(src, name(), in);
        to_tensor(in, out);
        return write_out(out.v.data(), out.v.size() * sizeof(float), KILN_F32, {out.c, out.h, out.w}, dst, capacity,
                         needed, name(), message);
    }
};

class Normalize final : public Transform {
public:
    explicit Normalize(const char* config) : Transform("normalize") {
        const Config cfg(name(), config, {"mean", "std"}, "mean");
        if (!cfg.has("mean") || !cfg.has("std")) cfg.fail("needs mean=m[:m:m] and std=s[:s:s]");
        for (double v : cfg.numbers("mean", ':', {1, 2, 3, 4}, -1e6, 1e6)) mean_.push_back(float(v));
        for (double v : cfg.numbers("std", ':', {1, 2, 3, 4}, -1e6, 1e6)) {
            if (v == 0) cfg.fail("std must not be 0 (it divides)");
            std_.push_back(float(v));
        }
    }
    kiln_status apply(const kiln_array& src, kiln_array& dst, size_t capacity, size_t* needed, uint64_t,
                      std::string& message) const override {
        if (src.elem != KILN_F32)
            throw TransformError("normalize: expects an f32 C×H×W tensor but got a u8 image (" + shape_text(src) +
                                 "); put to_tensor before it");
        if (src.rank != 3) throw TransformError("normalize: expects a tensor of rank 3 (C×H×W), got rank " + std::to_string(src.rank));
        for (int i = 0; i < 3; ++i)
            if (src.shape[i] <= 0 || src.shape[i] > (int64_t(1) << 20))
                throw TransformError("normalize: tensor shape " + shape_text(src) + " is empty or implausibly large");
        if (!src.data) throw TransformError("normalize: the tensor has no data");
        thread_local TensorF32 t;
        t.reshape(src.shape[0], src.shape[1], src.shape[2]);
        std::memcpy(t.v.data(), src.data, t.v.size() * sizeof(float));
        normalize(t, mean_, std_);
        return write_out(t.v.data(), t.v.size() * sizeof(float), KILN_F32, {t.c, t.h, t.w}, dst, capacity, needed,
                         name(), message);
    }

private:
    std::vector<float> mean_, std_;
};

class Resize final : public ImageTransform {
public:
    explicit Resize(const char* config) : ImageTransform("resize") {
        const Config cfg(name(), config, {"size", "max_size"}, "size");
        if (!cfg.has("size")) cfg.fail("needs size=N (the shorter side) or size=HxW");
        size_ = cfg.integers("size", 'x', {1, 2}, 1, max_side);
        if (cfg.has("max_size")) {
            if (size_.size() == 2) cfg.fail("max_size applies only when size is a single number");
            max_size_ = cfg.integer("max_size", 0, size_[0] + 1, max_side);
        }
    }

protected:
    void run(const ImageU8& in, ImageU8& out, uint64_t) const override {
        const auto [h, w] = resize_output_size(in.h, in.w, size_, max_size_);
        resize_bilinear(in, h, w, out);
    }

private:
    std::vector<int64_t> size_;
    std::optional<int64_t> max_size_;
};

class CenterCrop final : public ImageTransform {
public:
    explicit CenterCrop(const char* config) : ImageTransform("center_crop") {
        size_ = crop_size_of(Config(name(), config, {"size"}, "size"));
    }

protected:
    void run(const ImageU8& in, ImageU8& out, uint64_t) const override { center_crop(in, size_[0], size_[1], out); }

private:
    std::array<int64_t, 2> size_;
};

class RandomCrop final : public ImageTransform {
public:
    explicit RandomCrop(const char* config) : ImageTransform("random_crop") {
        const Config cfg(name(), config, {"size", "padding", "fill", "pad_if_needed", "padding_mode"}, "size");
        size_ = crop_size_of(cfg);
        const auto p = cfg.integers("padding", ':', {1, 2, 4}, 0, max_side);
        if (p.size() == 1) padding_ = {p[0], p[0], p[0], p[0]};
        if (p.size() == 2) padding_ = {p[0], p[1], p[0], p[1]};  // left/right, top/bottom
        if (p.size() == 4) padding_ = {p[0], p[1], p[2], p[3]};
        fill_ = fill_of(cfg, {0.0f});
        pad_if_needed_ = cfg.flag("pad_if_needed", false);
        const std::string mode = cfg.word("padding_mode", "constant", {"constant", "edge", "reflect", "symmetric"});
        mode_ = mode == "edge" ? PadMode::edge : mode == "reflect" ? PadMode::reflect
              : mode == "symmetric" ? PadMode::symmetric : PadMode::constant;
    }

protected:
    void run(const ImageU8& in, ImageU8& out, uint64_t stream_seed) const override {
        thread_local ImageU8 a, b;
        const ImageU8* img = &in;
        auto pad_into = [&](Padding p) {
            ImageU8& next = img == &a ? b : a;
            pad(*img, p, mode_, fill_, next);
            img = &next;
        };
        if (padding_.left || padding_.top || padding_.right || padding_.bottom) pad_into(padding_);
        // As torchvision, a missing width is padded on both sides (and so is a missing height).
        if (pad_if_needed_ && img->w < size_[1]) pad_into({size_[1] - img->w, 0, size_[1] - img->w, 0});
        if (pad_if_needed_ && img->h < size_[0]) pad_into({0, size_[0] - img->h, 0, size_[0] - img->h});
        if (img->h < size_[0] || img->w < size_[1])
            throw TransformError("random_crop: the crop " + std::to_string(size_[0]) + "×" + std::to_string(size_[1]) +
                                 " is larger than the " + (img == &in ? "" : "padded ") + "image " +
                                 std::to_string(img->h) + "×" + std::to_string(img->w) + " (pad_if_needed=true pads it)");
        Generator g(stream_seed);
        const int64_t top = int64_t(g.below(uint64_t(img->h - size_[0] + 1)));
        const int64_t left = int64_t(g.below(uint64_t(img->w - size_[1] + 1)));
        crop(*img, top, left, size_[0], size_[1], out);
    }

private:
    std::array<int64_t, 2> size_;
    Padding padding_;
    Fill fill_;
    bool pad_if_needed_ = false;
    PadMode mode_ = PadMode::constant;
};

class RandomFlip final : public ImageTransform {
public:
    RandomFlip(const char* name, const char* config, bool horizontal) : ImageTransform(name), horizontal_(horizontal) {
        p_ = Config(this->name(), config, {"p"}, "p").number("p", 0.5, 0.0, 1.0);
    }

protected:
    void run(const ImageU8& in, ImageU8& out, uint64_t stream_seed) const override {
        Generator g(stream_seed);
        if (g.uniform() < p_) horizontal_ ? hflip(in, out) : vflip(in, out);
        else out = in;
    }

private:
    bool horizontal_;
    double p_ = 0.5;
};

struct RandomHorizontalFlip final {
    static std::unique_ptr<Transform> make(const char* config) {
        return std::make_unique<RandomFlip>("random_horizontal_flip", config, true);
    }
};
struct RandomVerticalFlip final {
    static std::unique_ptr<Transform> make(const char* config) {
        return std::make_unique<RandomFlip>("random_vertical_flip", config, false);
    }
};

class RandomRotation final : public ImageTransform {
public:
    explicit RandomRotation(const char* config) : ImageTransform("random_rotation") {
        const Config cfg(name(), config, {"degrees", "interpolation", "expand", "center", "fill"}, "degrees");
        if (!cfg.has("degrees")) cfg.fail("needs degrees=D (−D..D) or degrees=LO:HI");
        const auto d = cfg.numbers("degrees", ':', {1, 2}, -36000, 36000);
        if (d.size() == 1) {
            if (d[0] < 0) cfg.fail("a single degrees value must not be negative");
            lo_ = -d[0], hi_ = d[0];
        } else {
            if (d[0] > d[1]) cfg.fail("degrees=LO:HI needs LO ≤ HI");
            lo_ = d[0], hi_ = d[1];
        }
        interp_ = interpolation_of(cfg);
        expand_ = cfg.flag("expand", false);
        if (cfg.has("center")) {
            const auto c = cfg.numbers("center", ':', {2}, -1e6, 1e6);
            center_ = std::array<double, 2>{c[0], c[1]};
        }
        fill_ = fill_of(cfg, {0.0f});  // RandomRotation always passes its fill (default 0)
    }

protected:
    void run(const ImageU8& in, ImageU8& out, uint64_t stream_seed) const override {
        Generator g(stream_seed);
        const double angle = lo_ + (hi_ - lo_) * double(g.uniform());
        rotate(in, angle, interp_, expand_, center_, fill_, out);
    }

private:
    double lo_ = 0, hi_ = 0;
    Interpolation interp_ = Interpolation::nearest;
    bool expand_ = false;
    std::optional<std::array<double, 2>> center_;
    Fill fill_;
};

class Grayscale final : public ImageTransform {
public:
    explicit Grayscale(const char* config) : ImageTransform("grayscale") {
        const Config cfg(name(), config, {"num_output_channels"}, "num_output_channels");
        channels_ = int(cfg.integer("num_output_channels", 1, 1, 3));
        if (channels_ == 2) cfg.fail("num_output_channels must be 1 or 3");
    }

protected:
    void run(const ImageU8& in, ImageU8& out, uint64_t) const override { grayscale(in, channels_, out); }

private:
    int channels_ = 1;
};

class TrivialAugmentWide final : public ImageTransform {
public:
    explicit TrivialAugmentWide(const char* config) : ImageTransform("trivial_augment_wide") {
        const Config cfg(name(), config, {"num_magnitude_bins", "interpolation", "fill"}, "num_magnitude_bins");
        bins_ = int(cfg.integer("num_magnitude_bins", 31, 2, 1000));
        interp_ = interpolation_of(cfg);
        fill_ = fill_of(cfg, {});
    }

protected:
    void run(const ImageU8& in, ImageU8& out, uint64_t stream_seed) const override {
        const TaChoice choice = ta_choose(stream_seed, bins_);
        ta_apply(in, choice.op, choice.magnitude, interp_, fill_, out);
    }

private:
    int bins_ = 31;
    Interpolation interp_ = Interpolation::nearest;
    Fill fill_;
};

// ---- the C entry points: nothing thrown crosses them ----

template <class T>
std::unique_ptr<Transform> make(const char* config) {
    if constexpr (requires { T::make(config); }) return T::make(config);
    else return std::make_unique<T>(config);
}

template <class T>
kiln_transform* create(const char* config, char* err, size_t err_size) noexcept {
    try {
        return reinterpret_cast<kiln_transform*>(make<T>(config ? config : "").release());
    } catch (const std::exception& e) {
        write_error(err, err_size, e.what());
    } catch (...) {
        write_error(err, err_size, "transforms: unknown error while creating a transform");
    }
    return nullptr;
}

void destroy(kiln_transform* t) noexcept { delete reinterpret_cast<Transform*>(t); }

kiln_status apply(const kiln_transform* t, const kiln_array* src, kiln_array* dst, size_t capacity, size_t* needed,
                  uint64_t seed, char* err, size_t err_size) noexcept {
    const char* who = t ? reinterpret_cast<const Transform*>(t)->name().c_str() : "transforms";
    try {
        if (!t || !src || !dst) {
            write_error(err, err_size, std::string(who) + ": apply was given a null transform, source or destination");
            return KILN_ERR_INVALID;
        }
        std::string message;
        const kiln_status s = reinterpret_cast<const Transform*>(t)->apply(*src, *dst, capacity, needed, seed, message);
        if (s != KILN_OK) write_error(err, err_size, message);
        return s;
    } catch (const std::bad_alloc&) {
        write_error(err, err_size, std::string(who) + ": out of memory");
    } catch (const std::exception& e) {
        const std::string message = e.what();  // named after the transform, once
        write_error(err, err_size, message.rfind(who, 0) == 0 ? message : std::string(who) + ": " + message);
    } catch (...) {
        write_error(err, err_size, std::string(who) + ": unknown error");
    }
    return KILN_ERR_INVALID;
}

template <class T>
constexpr kiln_transform_api api(const char* name, const char* description) {
    return {name, description, &create<T>, &destroy, &apply};
}

const kiln_transform_api to_tensor_api = api<ToTensor>("to_tensor", "u8 H×W×C → f32 C×H×W in [0, 1] (no keys)");
const kiln_transform_api normalize_api =
    api<Normalize>("normalize", "(x − mean) / std per channel on f32 C×H×W: mean=m[:m:m],std=s[:s:s]");
const kiln_transform_api resize_api = api<Resize>(
    "resize", "antialiased bilinear (PIL's): size=N (shorter side, keeps aspect) or size=HxW, max_size=N");
const kiln_transform_api center_crop_api = api<CenterCrop>("center_crop", "crop the centre: size=N or size=HxW");
const kiln_transform_api random_crop_api = api<RandomCrop>(
    "random_crop", "random crop: size=N|HxW, padding=P|LR:TB|L:T:R:B, fill=0, pad_if_needed=false, "
                   "padding_mode=constant|edge|reflect|symmetric");
const kiln_transform_api hflip_api =
    api<RandomHorizontalFlip>("random_horizontal_flip", "mirror left-right with probability p=0.5");
const kiln_transform_api vflip_api = api<RandomVerticalFlip>("random_vertical_flip", "flip upside down with probability p=0.5");
const kiln_transform_api rotation_api = api<RandomRotation>(
    "random_rotation", "rotate by a uniform angle: degrees=D|LO:HI, interpolation=nearest|bilinear, expand=false, "
                       "center=X:Y, fill=0");
const kiln_transform_api grayscale_api =
    api<Grayscale>("grayscale", "ITU-R 601-2 luma as PIL: num_output_channels=1|3");
const kiln_transform_api trivial_augment_api = api<TrivialAugmentWide>(
    "trivial_augment_wide", "TrivialAugmentWide: num_magnitude_bins=31, interpolation=nearest|bilinear, fill=none");

const kiln_transform_api* const all_transforms[] = {
    &to_tensor_api, &normalize_api, &resize_api,   &center_crop_api, &random_crop_api,
    &hflip_api,     &vflip_api,     &rotation_api, &grayscale_api,   &trivial_augment_api};

const kiln_plugin plugin = {
    KILN_PLUGIN_ABI_VERSION,
    "transforms",
    "1.0.0",
    "torchvision's standard transforms and TrivialAugmentWide",
    nullptr,
    int32_t(sizeof all_transforms / sizeof all_transforms[0]),
    all_transforms,
};

}  // namespace

}  // namespace kiln::transforms

extern "C" __attribute__((visibility("default"))) const kiln_plugin* kiln_plugin_entry(void) {
    return &kiln::transforms::plugin;
}
