// The transforms plugin through its C ABI (kiln_plugin_entry, compiled into this test), and
// TrivialAugmentWide: magnitude bins, each op at a chosen magnitude, and the seeded choice.
#define BOOST_TEST_MODULE transforms
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "kiln/data/plugin.h"
#include "transforms_test_util.h"

extern "C" const kiln_plugin* kiln_plugin_entry(void);

using namespace kiln::transforms;

namespace {

const kiln_transform_api* find_transform(const char* name) {
    const kiln_plugin* p = kiln_plugin_entry();
    for (int32_t i = 0; i < p->n_transforms; ++i)
        if (std::strcmp(p->transforms[i]->name, name) == 0) return p->transforms[i];
    return nullptr;
}

// One transform created from a config, applied to u8 images or f32 tensors.
struct Handle {
    const kiln_transform_api* api = nullptr;
    kiln_transform* t = nullptr;
    std::string error;

    Handle(const char* name, const char* config) : api(find_transform(name)) {
        BOOST_REQUIRE_MESSAGE(api, name);
        char err[512] = "";
        t = api->create(config, err, sizeof err);
        error = err;
    }
    ~Handle() {
        if (t) api->destroy(t);
    }

    struct Result {
        kiln_status status;
        kiln_array out;
        std::vector<uint8_t> bytes;
        size_t needed;
        std::string error;
    };
    Result run(const kiln_array& src, uint64_t seed, size_t capacity = 1 << 20) const {
        Result r{};
        r.bytes.resize(capacity);
        r.out.data = r.bytes.data();
        char err[512] = "";
        r.status = api->apply(t, &src, &r.out, capacity, &r.needed, seed, err, sizeof err);
        r.error = err;
        return r;
    }
    ImageU8 image_of(const ImageU8& in, uint64_t seed) const {
        kiln_array src{KILN_U8, 3, {in.h, in.w, in.c, 0}, const_cast<uint8_t*>(in.px.data())};
        Result r = run(src, seed);
        BOOST_REQUIRE_MESSAGE(r.status == KILN_OK, r.error);
        BOOST_REQUIRE(r.out.elem == KILN_U8);
        ImageU8 out(r.out.shape[0], r.out.shape[1], r.out.shape[2]);
        std::memcpy(out.px.data(), r.bytes.data(), out.px.size());
        return out;
    }
};

kiln_array u8_array(const ImageU8& img) { return {KILN_U8, 3, {img.h, img.w, img.c, 0}, const_cast<uint8_t*>(img.px.data())}; }

std::string create_error(const char* name, const char* config) {
    Handle h(name, config);
    BOOST_TEST(!h.t);
    return h.error;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// 4×4 grey, in(y, x) = 10·y + x + 1
const ImageU8 grid4 = image(4, 4, 1, {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34});

}  // namespace

// ---------------------------------------------------------------- the plugin and its ABI

BOOST_AUTO_TEST_SUITE(plugin_abi)

BOOST_AUTO_TEST_CASE(the_plugin_describes_itself) {
    const kiln_plugin* p = kiln_plugin_entry();
    BOOST_TEST(p->abi_version == uint32_t(KILN_PLUGIN_ABI_VERSION));
    BOOST_TEST(std::string(p->name) == "transforms");
    BOOST_TEST(!p->dataset);
    std::set<std::string> names;
    for (int32_t i = 0; i < p->n_transforms; ++i) {
        const kiln_transform_api* t = p->transforms[i];
        names.insert(t->name);
        BOOST_TEST(std::strlen(t->description) > 10);
        BOOST_TEST((t->create && t->destroy && t->apply));
    }
    BOOST_TEST(names == (std::set<std::string>{"to_tensor", "normalize", "resize", "center_crop", "random_crop",
                                               "random_horizontal_flip", "random_vertical_flip", "random_rotation",
                                               "grayscale", "trivial_augment_wide"}));
}

BOOST_AUTO_TEST_CASE(bad_configurations_are_refused_with_a_message) {
    BOOST_TEST(contains(create_error("resize", ""), "resize: needs size"));
    BOOST_TEST(contains(create_error("resize", "size=abc"), "is not a number"));
    BOOST_TEST(contains(create_error("resize", "size=0"), "outside"));
    BOOST_TEST(contains(create_error("resize", "size=64,colour=red"), "unknown key 'colour'"));
    BOOST_TEST(contains(create_error("resize", "size=64,size=32"), "given twice"));
    BOOST_TEST(contains(create_error("resize", "size=64x48,max_size=80"), "max_size"));
    BOOST_TEST(contains(create_error("normalize", "mean=0.5"), "std"));
    BOOST_TEST(contains(create_error("normalize", "mean=0.5,std=0.5:0"), "std must not be 0"));
    BOOST_TEST(contains(create_error("random_rotation", "degrees=-5"), "negative"));
    BOOST_TEST(contains(create_error("random_rotation", "degrees=10:5"), "LO"));
    BOOST_TEST(contains(create_error("grayscale", "num_output_channels=2"), "1 or 3"));
    BOOST_TEST(contains(create_error("random_crop", "size=8,padding=1:2:3"), "expected 1 or 2 or 4"));
    BOOST_TEST(contains(create_error("random_crop", "size=8,padding_mode=wrap"), "constant"));
    BOOST_TEST(contains(create_error("random_horizontal_flip", "p=1.5"), "outside [0, 1]"));
    BOOST_TEST(contains(create_error("trivial_augment_wide", "interpolation=cubic"), "nearest, bilinear"));
    BOOST_TEST(contains(create_error("trivial_augment_wide", "fill=1:2"), "expected 1 or 3"));
    BOOST_TEST(contains(create_error("to_tensor", "scale=2"), "unknown key"));
    // A bare first value is the primary key's.
    BOOST_TEST(Handle("resize", "64x48").t);
    BOOST_TEST(Handle("center_crop", " 32 ").t);
    BOOST_TEST(Handle("random_rotation", "15,interpolation=bilinear,expand=true,center=3:4,fill=1:2:3").t);
    BOOST_TEST(Handle("random_crop", "32,padding=4,pad_if_needed=true,padding_mode=reflect,fill=0").t);
}

BOOST_AUTO_TEST_CASE(wrong_element_type_and_bad_arguments) {
    const Handle resize("resize", "size=2");
    float f[4] = {};
    const kiln_array tensor{KILN_F32, 3, {1, 2, 2, 0}, f};
    auto r = resize.run(tensor, 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "resize: expects a u8 H×W×C image but got an f32 tensor"), r.error);

    const Handle norm("normalize", "mean=0.5,std=0.5");
    uint8_t px[3] = {};
    r = norm.run({KILN_U8, 3, {1, 1, 3, 0}, px}, 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "put to_tensor before it"), r.error);

    r = resize.run({KILN_U8, 2, {2, 2, 0, 0}, px}, 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "rank 3"), r.error);
    r = resize.run({KILN_U8, 3, {0, 2, 1, 0}, px}, 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "empty"), r.error);

    // Null pointers are answered, not dereferenced.
    char err[128] = "";
    BOOST_TEST(resize.api->apply(resize.t, nullptr, nullptr, 0, nullptr, 0, err, sizeof err) == KILN_ERR_INVALID);
    BOOST_TEST(contains(err, "null"));
    // An op's own refusal (TrivialAugmentWide needs 1 or 3 channels) comes back as a status.
    const Handle ta("trivial_augment_wide", "");
    uint8_t rgba[8] = {};
    r = ta.run({KILN_U8, 3, {1, 2, 4, 0}, rgba}, 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "1 or 3 channels"), r.error);
}

BOOST_AUTO_TEST_CASE(outputs_over_the_pixel_limit_are_refused_before_allocating) {
    // size=20000 on a 1×100 strip asks for 20000 × 2000000 pixels (120 GB): refused by the
    // 89478485-pixel limit (PIL's) with a message, not attempted.
    const ImageU8 strip(1, 100, 3);
    auto r = Handle("resize", "size=20000").run(u8_array(strip), 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "resize: an image of 20000×2000000 pixels exceeds the limit of 89478485"), r.error);
    r = Handle("center_crop", "size=30000").run(u8_array(strip), 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "center_crop: an image of 30000×30000 pixels exceeds the limit"), r.error);
}

BOOST_AUTO_TEST_CASE(a_small_buffer_asks_for_the_size_it_needs) {
    const Handle resize("resize", "size=4x5");
    const ImageU8 rgb(2, 2, 3);
    auto r = resize.run(u8_array(rgb), 0, 10);
    BOOST_TEST(r.status == KILN_ERR_CAPACITY);
    BOOST_TEST(r.needed == 4u * 5u * 3u);
    r = resize.run(u8_array(rgb), 0, r.needed);
    BOOST_TEST(r.status == KILN_OK);
    BOOST_TEST((r.out.shape[0] == 4 && r.out.shape[1] == 5 && r.out.shape[2] == 3 && r.out.rank == 3));
}

BOOST_AUTO_TEST_CASE(resize_to_tensor_normalize_pipeline) {
    // 2×2 grey [0 100 / 200 40] → resize 4×4 (values as in geometry/resize_upscale…) → f32 1×4×4
    // → (x/255 − .5)/.5
    const ImageU8 small = image(2, 2, 1, {0, 100, 200, 40});
    const ImageU8 big = Handle("resize", "size=4").image_of(small, 0);
    CHECK_IMAGE(big, 4, 4, 1, {0, 25, 75, 100, 50, 59, 76, 85, 150, 126, 79, 55, 200, 160, 80, 40});
    auto t = Handle("to_tensor", "").run(u8_array(big), 0);
    BOOST_REQUIRE(t.status == KILN_OK);
    BOOST_TEST((t.out.elem == KILN_F32 && t.out.shape[0] == 1 && t.out.shape[1] == 4 && t.out.shape[2] == 4));
    auto n = Handle("normalize", "mean=0.5,std=0.5").run(t.out, 0);
    BOOST_REQUIRE(n.status == KILN_OK);
    const float* v = reinterpret_cast<const float*>(n.bytes.data());
    BOOST_TEST(v[0] == -1.0f, boost::test_tools::tolerance(1e-6f));                        // 0
    BOOST_TEST(v[3] == (100.0f / 255.0f - 0.5f) / 0.5f, boost::test_tools::tolerance(1e-6f));  // 100
}

BOOST_AUTO_TEST_CASE(resize_keeps_the_aspect_ratio_for_a_single_size) {
    // 30×40, size=20 → 20×26; center_crop then cuts the middle 20×20.
    const ImageU8 in(30, 40, 3);
    const ImageU8 r = Handle("resize", "20").image_of(in, 0);
    BOOST_TEST((r.h == 20 && r.w == 26 && r.c == 3));
    const ImageU8 c = Handle("center_crop", "size=20").image_of(r, 0);
    BOOST_TEST((c.h == 20 && c.w == 20));
    const ImageU8 g = Handle("grayscale", "num_output_channels=3").image_of(c, 0);
    BOOST_TEST(g.c == 3);
}

BOOST_AUTO_TEST_CASE(flip_probability_and_reproducibility) {
    const ImageU8 row = image(1, 3, 1, {1, 2, 3});
    const Handle always("random_horizontal_flip", "p=1"), never("random_vertical_flip", "p=0");
    CHECK_IMAGE(always.image_of(row, 5), 1, 3, 1, {3, 2, 1});
    CHECK_IMAGE(never.image_of(grid4, 5), 4, 4, 1, {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34});
    const Handle half("random_horizontal_flip", "");
    int flipped = 0;
    for (uint64_t seed = 0; seed < 2000; ++seed) {
        const ImageU8 out = half.image_of(row, seed);
        flipped += out.px[0] == 3;
        BOOST_TEST(values_of(half.image_of(row, seed)) == values_of(out));  // same seed, same result
    }
    BOOST_TEST(flipped > 900);  // p = 0.5 over 2000 seeds: 1000 ± 22 (1 sd)
    BOOST_TEST(flipped < 1100);
    // Different transforms draw different streams from the same seed: the two flips disagree
    // on about half of the seeds instead of always agreeing.
    const Handle vhalf("random_vertical_flip", "");
    const ImageU8 col = image(3, 1, 1, {1, 2, 3});
    int disagree = 0;
    for (uint64_t seed = 0; seed < 1000; ++seed)
        disagree += (half.image_of(row, seed).px[0] == 3) != (vhalf.image_of(col, seed).px[0] == 3);
    BOOST_TEST(disagree > 400);
    BOOST_TEST(disagree < 600);
}

BOOST_AUTO_TEST_CASE(random_crop_with_padding) {
    // 2×2 [1 2 / 3 4], padding=1 → 4×4 with a zero frame; a 3×3 crop starts at (0|1, 0|1):
    const ImageU8 in = image(2, 2, 1, {1, 2, 3, 4});
    const std::set<std::vector<int>> crops{
        {0, 0, 0, 0, 1, 2, 0, 3, 4}, {0, 0, 0, 1, 2, 0, 3, 4, 0}, {0, 1, 2, 0, 3, 4, 0, 0, 0}, {1, 2, 0, 3, 4, 0, 0, 0, 0}};
    const Handle rc("random_crop", "size=3,padding=1");
    std::set<std::vector<int>> seen;
    for (uint64_t seed = 0; seed < 200; ++seed) {
        const ImageU8 out = rc.image_of(in, seed);
        BOOST_TEST((out.h == 3 && out.w == 3));
        BOOST_TEST(crops.count(values_of(out)) == 1u);
        seen.insert(values_of(out));
    }
    BOOST_TEST(seen == crops);
    // fill, and pad_if_needed (torchvision pads a short side on both ends): 1×1 [9] to 1×2 needs
    // width 1 more → padded to 1×3 [5 9 5], then a 1×2 crop.
    const Handle grow("random_crop", "size=1x2,pad_if_needed=true,fill=5");
    std::set<std::vector<int>> grown;
    for (uint64_t seed = 0; seed < 100; ++seed) grown.insert(values_of(grow.image_of(image(1, 1, 1, {9}), seed)));
    BOOST_TEST(grown == (std::set<std::vector<int>>{{5, 9}, {9, 5}}));
    // Too small without pad_if_needed: an error naming the sizes.
    auto r = Handle("random_crop", "size=3").run(u8_array(in), 0);
    BOOST_TEST(r.status == KILN_ERR_INVALID);
    BOOST_TEST(contains(r.error, "3×3 is larger than the image 2×2"), r.error);
}

BOOST_AUTO_TEST_CASE(random_rotation_draws_the_angle_from_its_range) {
    // degrees=90:90 can only turn by 90° (counter-clockwise, exact).
    CHECK_IMAGE(Handle("random_rotation", "degrees=90:90").image_of(image(3, 3, 1, {1, 2, 3, 4, 5, 6, 7, 8, 9}), 3), 3, 3,
                1, {3, 6, 9, 2, 5, 8, 1, 4, 7});
    // degrees=180 turns by a uniform angle in [−180, 180]: seeds give different images, a seed
    // always the same one.
    const Handle any("random_rotation", "degrees=180");
    std::set<std::vector<int>> outs;
    for (uint64_t seed = 0; seed < 20; ++seed) {
        outs.insert(values_of(any.image_of(grid4, seed)));
        BOOST_TEST(values_of(any.image_of(grid4, seed)) == values_of(any.image_of(grid4, seed)));
    }
    BOOST_TEST(outs.size() > 5u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- TrivialAugmentWide

BOOST_AUTO_TEST_SUITE(trivial_augment_wide)

BOOST_AUTO_TEST_CASE(magnitude_bins_are_torchvisions) {
    // shear, brightness, color, contrast, sharpness: linspace(0, .99, 31)
    for (TaOp op : {TaOp::shear_x, TaOp::shear_y, TaOp::brightness, TaOp::color, TaOp::contrast, TaOp::sharpness}) {
        const auto m = ta_magnitudes(op, 31);
        BOOST_TEST(m.size() == 31u);
        BOOST_TEST(m.front() == 0.0f);
        BOOST_TEST(m.back() == 0.99f);
        BOOST_TEST(m[10] == 0.33f, boost::test_tools::tolerance(1e-6f));
        BOOST_TEST(ta_signed(op));
    }
    // rotate: linspace(0, 135, 31), steps of 4.5 (exact)
    const auto rot = ta_magnitudes(TaOp::rotate, 31);
    for (int k = 0; k < 31; ++k) BOOST_TEST(rot[size_t(k)] == 4.5f * float(k));
    // solarize: linspace(255, 0, 31), steps of −8.5 (exact)
    const auto sol = ta_magnitudes(TaOp::solarize, 31);
    for (int k = 0; k < 31; ++k) BOOST_TEST(sol[size_t(k)] == 255.0f - 8.5f * float(k));
    BOOST_TEST(!ta_signed(TaOp::solarize));
    // posterize: 8 − round(k / 5) bits
    const auto post = ta_magnitudes(TaOp::posterize, 31);
    BOOST_TEST(post == (std::vector<float>{8, 8, 8, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3,
                                           3, 3, 2, 2, 2}),
               boost::test_tools::per_element());
    // translate: linspace(0, 32, 31). torch computes the second half down from the end with one
    // rounding: 32 − 15·(32/30 in f32 = 1.06666672) = 15.99999917 → 15.999999f, so int() makes
    // bin 15 a 15-pixel shift, not 16. (torch.linspace(0, 32, 31)[15] is 15.999999046325684;
    // test/transforms/torchvision_crosscheck.py compares every bin with torch's.)
    const auto tr = ta_magnitudes(TaOp::translate_x, 31);
    BOOST_TEST(tr[15] < 16.0f);
    BOOST_TEST(tr[15] > 15.9999f);
    BOOST_TEST(tr[30] == 32.0f);
    BOOST_TEST(tr[3] == 3.2f, boost::test_tools::tolerance(1e-6f));
    for (TaOp op : {TaOp::identity, TaOp::autocontrast, TaOp::equalize}) BOOST_TEST(ta_magnitudes(op, 31).empty());
}

BOOST_AUTO_TEST_CASE(each_op_at_a_chosen_magnitude) {
    const auto ta = [](const ImageU8& in, TaOp op, double m, const Fill& fill = {}) {
        ImageU8 out;
        ta_apply(in, op, m, Interpolation::nearest, fill, out);
        return out;
    };
    CHECK_IMAGE(ta(grid4, TaOp::identity, 0), 4, 4, 1, {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34});
    // ShearX .5: row y samples x + .5·(y + .5) → shifts 0 1 1 2 to the left.
    CHECK_IMAGE(ta(grid4, TaOp::shear_x, 0.5), 4, 4, 1, {1, 2, 3, 4, 12, 13, 14, 0, 22, 23, 24, 0, 33, 34, 0, 0});
    // ShearX −.5: shifts 0 1 1 2 to the right.
    CHECK_IMAGE(ta(grid4, TaOp::shear_x, -0.5), 4, 4, 1, {1, 2, 3, 4, 0, 11, 12, 13, 0, 21, 22, 23, 0, 0, 31, 32});
    // ShearY .5: column x moves up by 0 1 1 2.
    CHECK_IMAGE(ta(grid4, TaOp::shear_y, 0.5), 4, 4, 1, {1, 12, 13, 24, 11, 22, 23, 34, 21, 32, 33, 0, 31, 0, 0, 0});
    // TranslateX 1.9 → int() → 1 pixel right; TranslateY −1.9 → 1 pixel up, fill 7 below.
    CHECK_IMAGE(ta(grid4, TaOp::translate_x, 1.9), 4, 4, 1, {0, 1, 2, 3, 0, 11, 12, 13, 0, 21, 22, 23, 0, 31, 32, 33});
    CHECK_IMAGE(ta(grid4, TaOp::translate_y, -1.9, {7}), 4, 4, 1,
                {11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34, 7, 7, 7, 7});
    // Rotate 90: counter-clockwise about the centre.
    CHECK_IMAGE(ta(grid4, TaOp::rotate, 90), 4, 4, 1, {4, 14, 24, 34, 3, 13, 23, 33, 2, 12, 22, 32, 1, 11, 21, 31});
    // Brightness .5 → factor 1.5; Color −.5 → factor .5 (see the colour suite for the blends).
    CHECK_IMAGE(ta(image(1, 3, 1, {0, 100, 200}), TaOp::brightness, 0.5), 1, 3, 1, {0, 150, 255});
    CHECK_IMAGE(ta(image(1, 1, 3, {200, 100, 50}), TaOp::color, -0.5), 1, 1, 3, {162, 112, 87});
    // Contrast 1.0 → factor 2 about the mean 30 of [10 20 30 60].
    CHECK_IMAGE(ta(image(2, 2, 1, {10, 20, 30, 60}), TaOp::contrast, 1.0), 2, 2, 1, {0, 10, 30, 90});
    // Sharpness 1.0 → factor 2: the spot 100 (blur 45) becomes 155.
    CHECK_IMAGE(ta(image(3, 3, 1, {10, 10, 10, 10, 100, 10, 10, 10, 10}), TaOp::sharpness, 1.0), 3, 3, 1,
                {10, 10, 10, 10, 155, 10, 10, 10, 10});
    // Posterize 3.0 → 3 bits; Solarize 128.
    CHECK_IMAGE(ta(image(1, 3, 1, {255, 100, 31}), TaOp::posterize, 3.0), 1, 3, 1, {224, 96, 0});
    CHECK_IMAGE(ta(image(1, 3, 1, {127, 128, 200}), TaOp::solarize, 128.0), 1, 3, 1, {127, 127, 55});
    CHECK_IMAGE(ta(image(1, 3, 1, {10, 35, 60}), TaOp::autocontrast, 0), 1, 3, 1, {0, 127, 255});
    CHECK_IMAGE(ta(image(1, 3, 1, {0, 50, 200}), TaOp::equalize, 0), 1, 3, 1, {0, 50, 200});  // 3 pixels: step 0
}

BOOST_AUTO_TEST_CASE(choice_is_uniform_and_a_function_of_the_seed) {
    constexpr int n = 28000;
    std::array<int, ta_op_count> per_op{};
    std::map<int, int> per_bin;
    int negative = 0, signed_draws = 0;
    std::vector<TaChoice> forward;
    for (uint64_t seed = 0; seed < n; ++seed) {
        const TaChoice c = ta_choose(seed, 31);
        forward.push_back(c);
        ++per_op[size_t(c.op)];
        if (c.bin >= 0) {
            ++per_bin[c.bin];
            BOOST_TEST(std::fabs(c.magnitude) == double(ta_magnitudes(c.op, 31)[size_t(c.bin)]));
        } else {
            BOOST_TEST(c.magnitude == 0.0);
        }
        if (ta_signed(c.op)) ++signed_draws, negative += c.magnitude < 0;
        if (!ta_signed(c.op)) BOOST_TEST(c.magnitude >= 0.0);
    }
    // Each of the 14 ops: n/14 = 2000 expected, sd ≈ 43; allow ±10%.
    for (int count : per_op) {
        BOOST_TEST(count > 1800);
        BOOST_TEST(count < 2200);
    }
    // 11 ops have bins: ≈ 28000·11/14/31 ≈ 710 per bin, sd ≈ 26; allow ±20%.
    BOOST_TEST(per_bin.size() == 31u);
    for (auto [bin, count] : per_bin) {
        BOOST_TEST(count > 570);
        BOOST_TEST(count < 850);
    }
    BOOST_TEST(std::abs(2 * negative - signed_draws) < signed_draws / 10);
    // The same seeds drawn in reverse order give the same choices: nothing carries over.
    for (uint64_t seed = n; seed-- > 0;) {
        const TaChoice c = ta_choose(seed, 31);
        BOOST_TEST((c.op == forward[seed].op && c.bin == forward[seed].bin && c.magnitude == forward[seed].magnitude));
    }
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_order_or_threads) {
    // A 16×16 RGB gradient through the plugin: each seed's output is the same whether seeds run
    // forward, backward or on four threads at once.
    ImageU8 img(16, 16, 3);
    for (int64_t y = 0; y < 16; ++y)
        for (int64_t x = 0; x < 16; ++x)
            for (int64_t c = 0; c < 3; ++c) img.at(y, x, c) = uint8_t(16 * x + 7 * y + 40 * c);
    const Handle ta("trivial_augment_wide", "interpolation=bilinear,fill=128");
    constexpr int n = 300;
    std::vector<std::vector<int>> forward(n), backward(n), threaded(n);
    for (int s = 0; s < n; ++s) forward[size_t(s)] = values_of(ta.image_of(img, uint64_t(s)));
    for (int s = n; s-- > 0;) backward[size_t(s)] = values_of(ta.image_of(img, uint64_t(s)));
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int s = t; s < n; s += 4) {
                kiln_array src = u8_array(img), dst{};
                std::vector<uint8_t> buf(img.px.size());
                dst.data = buf.data();
                size_t needed = 0;
                char err[256];
                if (ta.api->apply(ta.t, &src, &dst, buf.size(), &needed, uint64_t(s), err, sizeof err) != KILN_OK)
                    ++failures[size_t(t)];
                threaded[size_t(s)] = std::vector<int>(buf.begin(), buf.end());
            }
        });
    for (auto& th : threads) th.join();
    BOOST_TEST(failures == (std::vector<int>{0, 0, 0, 0}), boost::test_tools::per_element());
    int changed = 0;
    for (int s = 0; s < n; ++s) {
        BOOST_TEST(forward[size_t(s)] == backward[size_t(s)]);
        BOOST_TEST(forward[size_t(s)] == threaded[size_t(s)]);
        changed += forward[size_t(s)] != values_of(img);
    }
    // Identity, the zero-magnitude bins, 8-bit posterize and a few more leave it as it was.
    BOOST_TEST(changed > n / 2);
}

BOOST_AUTO_TEST_SUITE_END()
