// The synthetic plugin: each generator opened by name through the registry gives exactly the arrays
// of make_circles / make_blobs / make_line called with the same arguments, and a bad configuration
// is an error naming the key.
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/data/synthetic.h"

using namespace kiln;
using namespace kiln::data;

namespace {

PluginRegistry& plugins() {
    static PluginRegistry r({KILN_TEST_PLUGIN_DIR});
    return r;
}

std::string open_error(const std::string& config) {
    try {
        plugins().open_dataset("synthetic:" + config);
    } catch (const Error& e) {
        BOOST_TEST((e.code() == Errc::plugin));  // as for any open() that fails
        return e.what();
    }
    return "(opened without an error)";
}

// Every sample of `d` against `want`, bit for bit; the labels as classes.
void check_same(const Dataset& d, const Classification& want) {
    BOOST_TEST_REQUIRE(d.size() == want.size());
    BOOST_TEST(array_description(d.sample_shape()) == "f32 [" + std::to_string(want.n_features) + "]");
    SampleBuffer buf;
    int64_t label = -1;
    int64_t differ = 0;
    for (int64_t i = 0; i < d.size(); ++i) {
        kiln_array a = d.get(i, buf, label);
        BOOST_TEST_REQUIRE(array_description(a) == "f32 [" + std::to_string(want.n_features) + "]");
        differ += label != want.y[size_t(i)] ||
                  std::memcmp(a.data, want.x.data() + i * want.n_features, size_t(want.n_features) * 4) != 0;
    }
    BOOST_TEST(differ == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(synthetic)

BOOST_AUTO_TEST_CASE(is_found_with_the_other_bundled_plugins) {
    const kiln_plugin* p = plugins().find("synthetic");
    BOOST_TEST_REQUIRE(p != nullptr);
    BOOST_TEST(std::string(p->version) == "1.0.0");
    BOOST_TEST(p->dataset != nullptr);
    BOOST_TEST(p->n_transforms == 0);
}

BOOST_AUTO_TEST_CASE(circles_are_make_circles) {
    Dataset d = plugins().open_dataset("synthetic:circles,n=301,noise=0.05,factor=0.5,seed=7");
    check_same(d, make_circles(301, 0.05f, 0.5f, 7));
    BOOST_TEST(d.num_classes() == 2);
    BOOST_TEST(d.class_names() == (std::vector<std::string>{"outer", "inner"}), boost::test_tools::per_element());
    // The defaults are make_circles's, and the examples' settings spelt out give the same set.
    check_same(plugins().open_dataset("synthetic:circles"), make_circles());
    check_same(plugins().open_dataset("synthetic:circles,n=1000,noise=0.03,factor=0.8,seed=42"), make_circles());
}

BOOST_AUTO_TEST_CASE(blobs_are_make_blobs) {
    Dataset d = plugins().open_dataset("synthetic:blobs,n=250,centers=3,features=5,std=0.7,box=-2:4.5,seed=9");
    check_same(d, make_blobs(250, 5, 3, 0.7f, {-2.0f, 4.5f}, 9));
    BOOST_TEST(d.num_classes() == 3);
    BOOST_TEST(d.class_names() == (std::vector<std::string>{"0", "1", "2"}), boost::test_tools::per_element());
    check_same(plugins().open_dataset("synthetic:blobs"), make_blobs());
    check_same(plugins().open_dataset("synthetic:blobs,n=1000,centers=4,features=2,std=1.5,seed=46"),
               make_blobs(1000, 2, 4, 1.5f, {-10.0f, 10.0f}, 46));
}

BOOST_AUTO_TEST_CASE(line_is_regression_data_with_make_lines_targets) {
    const Regression want = make_line(0.5f, -0.25f, -1.0, 2.0, 0.1);
    Dataset d = plugins().open_dataset("synthetic:line,weight=0.5,bias=-0.25,start=-1,end=2,step=0.1");
    BOOST_TEST_REQUIRE(d.size() == want.size());
    BOOST_TEST(d.num_classes() == 0);
    BOOST_TEST(d.class_names().empty());
    BOOST_TEST(array_description(d.sample_shape()) == "f32 [1]");
    // The DataLoader sees a regression set and hands the targets out as floats.
    DataLoaderOptions o;
    o.batch_size = d.size(), o.workers = 0;
    DataLoader loader(d, {}, o);
    const Batch* b = loader.next();
    BOOST_TEST_REQUIRE(b->targets != nullptr);
    BOOST_TEST(std::vector<float>(b->x, b->x + b->size) == want.x, boost::test_tools::per_element());
    BOOST_TEST(std::vector<float>(b->targets, b->targets + b->size) == want.y, boost::test_tools::per_element());
    // The examples' line: 50 points, 40 for training.
    BOOST_TEST(plugins().open_dataset("synthetic:line").size() == 50);
    BOOST_TEST(plugins().open_dataset("synthetic:line,weight=0.7,bias=0.3,start=0,end=1,step=0.02").size() ==
               make_line().size());
}

BOOST_AUTO_TEST_CASE(get_checks_the_index_and_the_buffer) {
    Dataset d = plugins().open_dataset("synthetic:blobs,n=3,features=3");
    const kiln_dataset_api& api = d.api();
    float out[3];
    kiln_array a{};
    a.data = out;
    size_t needed = 0;
    int64_t label = -1;
    char err[256] = "";
    BOOST_TEST(api.get(d.handle(), 0, &a, 11, &needed, &label, err, sizeof err) == KILN_ERR_CAPACITY);
    BOOST_TEST(needed == 12u);
    BOOST_TEST(api.get(d.handle(), 0, &a, 12, &needed, &label, err, sizeof err) == KILN_OK);
    BOOST_TEST(api.get(d.handle(), 3, &a, 12, &needed, &label, err, sizeof err) == KILN_ERR_INVALID);
    BOOST_TEST(std::string(err) == "synthetic: sample 3 is outside [0, 3)");
}

BOOST_AUTO_TEST_CASE(bad_configurations_name_the_key) {
    BOOST_TEST(open_error("") == "cannot open dataset 'synthetic:': synthetic: no generator given; use "
                                 "synthetic:circles|blobs|line[,key=value…]");
    BOOST_TEST(open_error("n=5").find("synthetic: no generator given") != std::string::npos);
    BOOST_TEST(open_error("moons,n=5").ends_with("synthetic: unknown generator 'moons' (known: circles, blobs, line)"));
    BOOST_TEST(open_error("circles,5").ends_with(
        "synthetic: '5' is not a key=value setting (only the generator, first, comes without a key)"));
    // A key of another generator, or of none.
    BOOST_TEST(open_error("circles,centers=3").ends_with(
        "synthetic: circles has no setting 'centers' (its settings: n, noise, factor, seed)"));
    BOOST_TEST(open_error("line,n=10").ends_with(
        "synthetic: line has no setting 'n' (its settings: weight, bias, start, end, step)"));
    BOOST_TEST(open_error("blobs,colour=red").ends_with(
        "synthetic: blobs has no setting 'colour' (its settings: n, centers, features, std, box, seed)"));
    // Values that are not numbers, or out of range.
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"circles,n=ten", "setting 'n=ten': not a whole number"},
        {"circles,n=1.5", "setting 'n=1.5': not a whole number"},
        {"circles,n=0", "setting 'n=0': must be at least 1"},
        {"circles,n=-3", "setting 'n=-3': must be at least 1"},
        {"circles,noise=", "setting 'noise=': not a number"},
        {"circles,noise=-0.1", "setting 'noise=-0.1': must not be negative"},
        {"circles,noise=nan", "setting 'noise=nan': not a finite number"},
        {"circles,factor=1", "setting 'factor=1': must be at least 0 and below 1"},
        {"circles,seed=-1", "setting 'seed=-1': not a whole number from 0 to 2^64 - 1"},
        {"circles,n=99999999999", "setting 'n=99999999999': 99999999999 samples of 2 values are more than the 134217728 values"},
        {"blobs,centers=0", "setting 'centers=0': must be from 1 to 65536"},
        {"blobs,features=0", "setting 'features=0': must be at least 1"},
        {"blobs,std=-1", "setting 'std=-1': must not be negative"},
        {"blobs,box=10", "setting 'box=10': give the centres' range as low:high, e.g. box=-10:10"},
        {"blobs,box=1:x", "setting 'box=1:x': not a number"},
        {"blobs,box=5:-5", "setting 'box=5:-5': low must not be above high"},
        {"blobs,n=100000000,features=100", "setting 'n=100000000': 100000000 samples of 100 values are more than"},
        {"line,weight=inf", "setting 'weight=inf': not a finite number"},
        {"line,step=0", "setting 'step=0': must be above 0"},
        {"line,start=1,end=1", "setting 'end=1': must be above start"},
        {"line,start=2", "setting 'end': must be above start"},
        {"line,step=1e-12", "setting 'step=1e-12': gives more than 134217728 points from start to end"},
    };
    for (const auto& [config, message] : bad)
        BOOST_TEST(open_error(config).find("synthetic: " + message) != std::string::npos,
                   config << ": " << open_error(config));
}

BOOST_AUTO_TEST_SUITE_END()
