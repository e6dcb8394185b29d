// The plugin registry (discovery, ABI check, refusals kept as problems), the Dataset and
// TransformPipeline wrappers, and the pipeline grammar.
#define BOOST_TEST_MODULE data_plugins
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/precondition.h"
#include "data/test_plugins.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "temp_dir.h"
#include "error_of.h"

using namespace kiln;
using kiln::testing::error_of;
using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

const std::string plugin_dir = KILN_TEST_PLUGIN_DIR;
const std::string bad_dir = KILN_TEST_BAD_PLUGIN_DIR;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const PluginInfo* info_of(const PluginRegistry& r, const std::string& name) {
    for (const auto& p : r.plugins())
        if (p.name == name) return &p;
    return nullptr;
}

boost::test_tools::assertion_result nm_found(boost::unit_test::test_unit_id id) {
    return run_if(std::string(KILN_TEST_NM) != "", id, "nm (binutils) was not found when the tests were configured");
}

// The names `nm -D --defined-only` lists for a shared object: what it exports.
std::vector<std::string> exported_symbols(const std::string& path) {
    const std::string cmd = std::string(KILN_TEST_NM) + " -D --defined-only '" + path + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_TEST_REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    BOOST_TEST_REQUIRE(::pclose(p) == 0, cmd << " failed: " << out);
    std::vector<std::string> names;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
        if (auto space = line.find_last_of(' '); space != std::string::npos) names.push_back(line.substr(space + 1));
    return names;
}

}  // namespace

BOOST_AUTO_TEST_CASE(finds_the_built_plugins) {
    PluginRegistry r({plugin_dir});
    for (const auto& p : r.problems()) BOOST_TEST_MESSAGE(p.path << ": " << p.message);
    BOOST_TEST(r.problems().empty());
    const PluginInfo* idx = info_of(r, "idx");
    BOOST_TEST_REQUIRE(idx != nullptr);
    BOOST_TEST(idx->version == "1.0.0");
    BOOST_TEST(idx->has_dataset);
    BOOST_TEST(idx->transforms.empty());
    BOOST_TEST(idx->path == plugin_dir + "/kiln-idx.so");
    BOOST_TEST(r.find("idx") != nullptr);
    BOOST_TEST(r.find("no-such-plugin") == nullptr);
}

BOOST_AUTO_TEST_CASE(bundled_plugins_export_only_the_entry_function, *boost::unit_test::precondition(nm_found)) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(plugin_dir)) {
        const std::string name = e.path().filename().string();
        if (!name.starts_with("kiln-") || !name.ends_with(".so")) continue;
        found.push_back(name);
        BOOST_TEST(exported_symbols(e.path().string()) == std::vector<std::string>{"kiln_plugin_entry"},
                   boost::test_tools::per_element());
    }
    std::sort(found.begin(), found.end());
    const std::vector<std::string> bundled{"kiln-idx.so", "kiln-imagefolder.so", "kiln-synthetic.so", "kiln-transforms.so"};
    BOOST_TEST(found == bundled, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(default_search_path_order) {
    ::setenv("KILN_PLUGIN_PATH", "/tmp/kiln-a::/tmp/kiln-b", 1);
    std::vector<std::string> path = PluginRegistry::default_search_path();
    ::unsetenv("KILN_PLUGIN_PATH");
    const std::string exe = fs::read_symlink("/proc/self/exe").parent_path().string();
    BOOST_TEST_REQUIRE(path.size() == 5u);
    BOOST_TEST(path[0] == "/tmp/kiln-a");
    BOOST_TEST(path[1] == "/tmp/kiln-b");
    BOOST_TEST(path[2] == exe);
    BOOST_TEST(path[3] == (fs::path(exe).parent_path() / "plugins").string());
    BOOST_TEST(contains(path[4], "kiln/plugins"));  // the install folder
    // Test executables live in build/test/, so build/plugins is found with no setting at all.
    PluginRegistry r;
    BOOST_TEST(r.find("idx") != nullptr);
}

BOOST_AUTO_TEST_CASE(refuses_a_plugin_built_for_another_abi) {
    const std::string path = bad_dir + "/kiln-bad-abi.so";
    PluginRegistry r(std::vector<std::string>{});
    std::string msg = error_of([&] { r.load(path); });
    BOOST_TEST(msg == "plugin " + path + " was built for plugin ABI 999, this kiln uses ABI 2 (and reads ABI 1 and later)");
    BOOST_TEST(r.plugins().empty());
}

BOOST_AUTO_TEST_CASE(reports_a_shared_object_without_the_entry_function) {
    const std::string path = bad_dir + "/kiln-no-entry.so";
    PluginRegistry r(std::vector<std::string>{});
    std::string msg = error_of([&] { r.load(path); });
    BOOST_TEST(contains(msg, "plugin " + path + " has no kiln_plugin_entry function"));
    BOOST_TEST(contains(msg, "undefined symbol"));  // dlerror's own words
}

BOOST_AUTO_TEST_CASE(scanning_keeps_every_refusal_as_a_problem) {
    TempDir tmp;
    { std::ofstream(tmp / "kiln-garbage.so") << "not an ELF file"; }
    { std::ofstream(tmp / "kiln-notes.txt") << "ignored: not named kiln-*.so"; }
    PluginRegistry r({bad_dir, tmp.path.string(), "/nonexistent/folder"});
    BOOST_TEST_REQUIRE(r.plugins().size() == 1u);  // kiln-misbehaving.so loads; it misbehaves only when used
    BOOST_TEST(r.plugins()[0].name == "misbehaving");
    BOOST_TEST_REQUIRE(r.problems().size() == 4u);
    BOOST_TEST(r.problems()[0].path == bad_dir + "/kiln-bad-abi.so");
    BOOST_TEST(contains(r.problems()[0].message, "built for plugin ABI 999, this kiln uses ABI 2"));
    BOOST_TEST(r.problems()[1].path == bad_dir + "/kiln-incomplete.so");
    BOOST_TEST(r.problems()[1].message == "plugin " + bad_dir + "/kiln-incomplete.so: its dataset API has no get function");
    BOOST_TEST(r.problems()[2].path == bad_dir + "/kiln-no-entry.so");
    BOOST_TEST(contains(r.problems()[2].message, "has no kiln_plugin_entry"));
    BOOST_TEST(r.problems()[3].path == tmp / "kiln-garbage.so");
    BOOST_TEST(contains(r.problems()[3].message, "could not be loaded"));
    BOOST_TEST(contains(r.problems()[3].message, "kiln-garbage.so"));  // dlopen's text names the file
    // Opening through a registry with problems says so.
    std::string msg = error_of([&] { r.open_dataset("idx:/data"); });
    BOOST_TEST(contains(msg, "no dataset plugin named 'idx'"));
    BOOST_TEST(contains(msg, "4 plugin file(s) could not be used"));
}

// What a loaded plugin reports and delivers is checked before kiln uses it: each broken promise
// is an Error naming the plugin (and the sample), never a crash or an out-of-bounds read.
BOOST_AUTO_TEST_CASE(a_plugin_that_breaks_its_promises_is_refused_with_the_reason) {
    PluginRegistry r(std::vector<std::string>{bad_dir});
    BOOST_TEST(error_of([&] { r.open_dataset("misbehaving:classes=-3"); }) ==
               "misbehaving:classes=-3: the plugin reports -3 classes, outside 0..1,048,576");
    BOOST_TEST(error_of([&] { r.open_dataset("misbehaving:length=-1"); }) ==
               "misbehaving:length=-1: the plugin reports -1 samples, outside 0..4,294,967,296");
    auto first_batch = [&](const std::string& spec, int workers) {
        return error_of([&] {
            DataLoaderOptions o;
            o.batch_size = 4, o.workers = workers;
            DataLoader loader(r.open_dataset(spec), {}, o);
            while (loader.next()) {
            }
        });
    };
    for (int workers : {0, 2}) {
        BOOST_TEST(first_batch("misbehaving:lie", workers) ==
                   "misbehaving:lie: delivered u8 [1000, 1000, 1], 1,000,000 bytes in a buffer of 64 bytes (sample 0)");
        BOOST_TEST(first_batch("misbehaving:shape", workers) ==
                   "misbehaving:shape: delivered u8 [4, 5, 1] though the plugin declares u8 [4, 4, 1] (sample 0)");
        BOOST_TEST(first_batch("misbehaving:greedy", workers) ==
                   "misbehaving:greedy: needs 4,611,686,018,427,387,904 bytes, more than kiln's limit of "
                   "1,073,741,824 bytes per sample (sample 0)");
        BOOST_TEST(first_batch("misbehaving:rank", workers) == "misbehaving:rank: delivered rank 7 (kiln takes 1 to 4) (sample 0)");
        // A label outside the classes stops the loader before the batch is handed out.
        BOOST_TEST(first_batch("misbehaving:label=10", workers) ==
                   "misbehaving:label=10: sample 0 has label 10, outside its 10 classes (0..9)");
        BOOST_TEST(first_batch("misbehaving:label=-5,length=3", workers) ==
                   "misbehaving:label=-5,length=3: sample 0 has label -5, outside its 10 classes (0..9)");
    }
    BOOST_TEST(first_batch("misbehaving:", 2) == "(no error)");  // the same plugin, behaving
}

BOOST_AUTO_TEST_CASE(first_plugin_of_a_name_wins_and_the_other_is_reported) {
    TempDir tmp;
    fs::copy_file(plugin_dir + "/kiln-idx.so", tmp / "kiln-idx.so");
    PluginRegistry r({tmp.path.string(), plugin_dir, plugin_dir});  // the same folder twice is read once
    BOOST_TEST(info_of(r, "idx")->path == tmp / "kiln-idx.so");
    int shadowed = 0;
    for (const auto& p : r.problems())
        if (p.path == plugin_dir + "/kiln-idx.so") {
            ++shadowed;
            BOOST_TEST(contains(p.message, "is shadowed by " + tmp / "kiln-idx.so"));
        }
    BOOST_TEST(shadowed == 1);
}

BOOST_AUTO_TEST_CASE(dataset_specs_and_their_errors) {
    PluginRegistry r({plugin_dir});
    r.add(test_plugins::plugin, "test");
    BOOST_TEST(contains(error_of([&] { r.open_dataset("idx"); }), "needs the form <plugin>:<config>"));
    std::string msg = error_of([&] { r.open_dataset("nope:/x"); });
    BOOST_TEST(contains(msg, "no dataset plugin named 'nope'"));
    BOOST_TEST(contains(msg, "idx"));
    BOOST_TEST(contains(msg, "pattern"));
    BOOST_TEST(contains(msg, "searched " + plugin_dir));
    msg = error_of([&] { r.open_dataset("pattern:n=5,colour=red"); });
    BOOST_TEST(msg == "cannot open dataset 'pattern:n=5,colour=red': pattern: unknown key 'colour'");

    Dataset d = r.open_dataset("pattern:n=5,h=2,w=3,c=1");
    BOOST_TEST(d.spec() == "pattern:n=5,h=2,w=3,c=1");
    BOOST_TEST(d.size() == 5);
    BOOST_TEST(d.num_classes() == 10);
    BOOST_TEST(d.class_name(3) == "c3");
    BOOST_TEST(d.class_names().size() == 10u);
    BOOST_TEST(!d.config_skips_bad_samples());
    BOOST_TEST(r.open_dataset("pattern:n=5,on_error=skip").config_skips_bad_samples());
    kiln_array shape = d.sample_shape();
    BOOST_TEST(array_shape(shape).str() == "[2, 3, 1]");

    // get() grows the caller's buffer once, then reuses it.
    SampleBuffer buf;
    int64_t label = -1;
    kiln_array a = d.get(4, buf, label);
    BOOST_TEST(label == 4);
    BOOST_TEST(array_description(a) == "u8 [2, 3, 1]");
    BOOST_TEST(static_cast<uint8_t*>(a.data)[5] == test_plugins::pattern_pixel(4, 1, 2, 0));
    const size_t capacity = buf.capacity();
    void* data = buf.data();
    d.get(1, buf, label);
    BOOST_TEST(buf.capacity() == capacity);
    BOOST_TEST(buf.data() == data);

    Dataset bad = r.open_dataset("pattern:n=5,bad=2,io=3");
    try {
        bad.get(2, buf, label);
        BOOST_FAIL("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::format);
        BOOST_TEST(std::string(e.what()) == "pattern: /data/sample2.png: corrupt data (sample 2)");
    }
    try {
        bad.get(3, buf, label);
        BOOST_FAIL("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::io);
    }
}

BOOST_AUTO_TEST_CASE(a_dataset_keeps_its_plugin_loaded_after_the_registry_is_gone) {
    TempDir tmp;
    {
        std::ofstream f(tmp / "t10k-images-idx3-ubyte", std::ios::binary);
        const unsigned char h[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 7, 9};
        f.write(reinterpret_cast<const char*>(h), sizeof h);
        std::ofstream l(tmp / "t10k-labels-idx1-ubyte", std::ios::binary);
        const unsigned char lh[] = {0, 0, 8, 1, 0, 0, 0, 1, 3};
        l.write(reinterpret_cast<const char*>(lh), sizeof lh);
    }
    std::unique_ptr<Dataset> d;
    {
        PluginRegistry r({plugin_dir});
        d = std::make_unique<Dataset>(r.open_dataset("idx:" + tmp.path.string() + ",split=test,classes=4"));
    }
    SampleBuffer buf;
    int64_t label = 0;
    kiln_array a = d->get(0, buf, label);
    BOOST_TEST(label == 3);
    BOOST_TEST(static_cast<uint8_t*>(a.data)[1] == 9);
    BOOST_TEST(d->class_name(3) == "3");  // a folder name that says neither fashion nor mnist
}

BOOST_AUTO_TEST_CASE(pipeline_grammar) {
    PluginRegistry r(std::vector<std::string>{});
    r.add(test_plugins::plugin, "test");
    BOOST_TEST(r.pipeline("").empty());
    BOOST_TEST(r.pipeline(" ; ;").empty());
    TransformPipeline p = r.pipeline(" add=1 ; add = 2;;widen;");
    BOOST_TEST(p.size() == 3u);
    BOOST_TEST(p.str() == "add=1;add=2;widen");
    BOOST_TEST(r.pipeline(p.str()).str() == p.str());

    std::string msg = error_of([&] { r.pipeline("add;blur=3"); });
    BOOST_TEST(contains(msg, "no transform named 'blur'"));
    BOOST_TEST(contains(msg, "available: add, seed_byte, widen, fail"));
    BOOST_TEST(error_of([&] { r.pipeline("add=x"); }) == "transform 'add=x': add: 'x' is not a number");

    // Applying: + 1 + 2, then each column twice; the widening step grows its buffer on demand.
    const uint8_t src_bytes[4] = {10, 20, 30, 40};
    kiln_array src{KILN_U8, 3, {2, 2, 1, 0}, const_cast<uint8_t*>(src_bytes)};
    PipelineScratch scratch;
    kiln_array out = p.apply(src, scratch, 0);
    BOOST_TEST(array_description(out) == "u8 [2, 4, 1]");
    const auto* o = static_cast<const uint8_t*>(out.data);
    std::vector<int> got(o, o + 8), want{13, 13, 23, 23, 33, 33, 43, 43};
    BOOST_TEST(got == want, boost::test_tools::per_element());

    // Each step draws from its own stream: step_seed(sample seed, k).
    TransformPipeline seeded = r.pipeline("seed_byte;seed_byte");
    out = seeded.apply(src, scratch, 1234);
    const int expect = int((10 + (step_seed(1234, 0) & 0xFF) + (step_seed(1234, 1) & 0xFF)) & 0xFF);
    BOOST_TEST(int(static_cast<const uint8_t*>(out.data)[0]) == expect);
    BOOST_TEST((step_seed(1234, 0) & 0xFF) != (step_seed(1234, 1) & 0xFF));

    try {
        r.pipeline("add;fail").apply(src, scratch, 0);
        BOOST_FAIL("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::invalid_argument);
        BOOST_TEST(std::string(e.what()) == "fail: asked to fail");
    }
    // An empty pipeline hands its input back.
    out = TransformPipeline().apply(src, scratch, 0);
    BOOST_TEST(out.data == src.data);
}

BOOST_AUTO_TEST_CASE(sample_seeds_depend_on_seed_epoch_and_index_only) {
    BOOST_TEST(sample_seed(42, 0, 7) == sample_seed(42, 0, 7));
    BOOST_TEST(sample_seed(42, 0, 7) != sample_seed(42, 1, 7));
    BOOST_TEST(sample_seed(42, 0, 7) != sample_seed(42, 0, 8));
    BOOST_TEST(sample_seed(42, 0, 7) != sample_seed(43, 0, 7));
    BOOST_TEST(sample_seed(0, 0, 0) == splitmix64(splitmix64(splitmix64(0))));
}

BOOST_AUTO_TEST_CASE(built_in_plugins_are_checked_like_loaded_ones) {
    PluginRegistry r(std::vector<std::string>{});
    kiln_plugin old = test_plugins::plugin;
    old.abi_version = 0;
    BOOST_TEST(error_of([&] { r.add(old, "built-in old"); }) == "plugin built-in old was built for plugin ABI 0, this kiln uses ABI 2 (and reads ABI 1 and later)");
    r.add(test_plugins::plugin, "test");
    BOOST_TEST(contains(error_of([&] { r.add(test_plugins::plugin, "again"); }), "is shadowed by test"));
    BOOST_TEST(r.find_transform("widen") == &test_plugins::widen_api);
    BOOST_TEST(r.find_transform("blur") == nullptr);
}
