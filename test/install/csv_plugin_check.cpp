// Built by install_test.sh against the installed libkiln (pkg-config) and run with KILN_PLUGIN_PATH
// pointing at kiln-csv.so, built from examples/plugins/ as its README says. It writes CSV files
// into the folder given as argv[1], opens them through PluginRegistry and checks what comes out,
// then checks that bad files fail with a message naming the file, the line and the problem.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"

using namespace kiln::data;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what.c_str());
        ++failures;
    }
}

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

// Opening `spec` must fail with a kiln::Error whose message holds every one of `parts`. The plugin
// ABI's open() returns no status, so every failure to open is Errc::plugin.
void check_error(const PluginRegistry& plugins, const std::string& spec, const std::vector<std::string>& parts) {
    try {
        plugins.open_dataset(spec);
        check(false, spec + " opened, but should have failed");
    } catch (const kiln::Error& e) {
        const std::string message = e.what();
        std::printf("expected error: %s: %s\n", kiln::errc_name(e.code()), message.c_str());
        check(e.code() == kiln::Errc::plugin, spec + ": error code " + kiln::errc_name(e.code()) + ", expected plugin");
        for (const auto& p : parts) check(message.find(p) != std::string::npos, spec + ": the message lacks '" + p + "'");
    }
}

void check_classification(const PluginRegistry& plugins, const std::string& dir) {
    const std::string path = write(dir, "iris.csv",
                                   "sepal_length,species,sepal_width\n"
                                   "5.1,setosa,3.5\n"
                                   "7.0,versicolor,3.25\r\n"
                                   "\n"
                                   "6.3 , virginica , -0.5\n"
                                   "4.9,\"setosa\",+3.0\n"
                                   "\"5.5\",versicolor,2.25\n");
    Dataset ds = plugins.open_dataset("csv:" + path + ",label=species");
    check(ds.size() == 5, "iris.csv has 5 rows, the dataset says " + std::to_string(ds.size()));
    check(ds.class_names() == std::vector<std::string>{"setosa", "versicolor", "virginica"},
          "iris.csv's classes are setosa, versicolor, virginica");
    const kiln_array shape = ds.sample_shape();
    check(shape.elem == KILN_F32 && shape.rank == 1 && shape.shape[0] == 2, "a sample is f32 [2]");

    DataLoaderOptions o;
    o.batch_size = 8, o.workers = 2;
    DataLoader loader(ds, {}, o);
    const Batch* b = loader.next();
    check(b && b->size == 5, "one batch of the 5 rows");
    if (!b || b->size != 5) return;
    const std::vector<float> want_x = {5.1f, 3.5f, 7.0f, 3.25f, 6.3f, -0.5f, 4.9f, 3.0f, 5.5f, 2.25f};
    const std::vector<int64_t> want_labels = {0, 1, 2, 0, 1};
    check(std::vector<float>(b->x, b->x + 10) == want_x, "the batch holds the feature columns in file order");
    check(std::vector<int64_t>(b->labels, b->labels + 5) == want_labels, "labels are indices of the sorted classes");
    check(loader.next() == nullptr, "the epoch ends after one batch");
}

void check_numeric_labels_and_regression(const PluginRegistry& plugins, const std::string& dir) {
    const std::string path = write(dir, "numbers.csv", "1,10\n2,2\n3,1\n4,2\n");
    Dataset ds = plugins.open_dataset("csv:" + path + ",header=no,label=1");
    check(ds.class_names() == std::vector<std::string>{"1", "2", "10"}, "numeric labels sort as numbers: 1, 2, 10");

    DataLoaderOptions o;
    o.batch_size = 4, o.workers = 0;
    DataLoader classes(ds, {}, o);
    const Batch* b = classes.next();
    check(b && std::vector<int64_t>(b->labels, b->labels + 4) == std::vector<int64_t>{2, 1, 0, 1},
          "numbers.csv's labels are 2, 1, 0, 1");

    DataLoader targets(plugins.open_dataset("csv:" + path + ",header=no,task=regression"), {}, o);
    b = targets.next();
    check(b && b->targets && std::vector<float>(b->targets, b->targets + 4) == std::vector<float>{10, 2, 1, 2},
          "task=regression gives the last column as f32 targets");
}

void check_bad_files(const PluginRegistry& plugins, const std::string& dir) {
    const std::string ragged = write(dir, "ragged.csv", "a,b,label\n1,2,x\n3,y\n");
    check_error(plugins, "csv:" + ragged, {ragged + ":3:", "the line has 2 fields, the first line has 3"});
    const std::string text = write(dir, "text.csv", "a,b,label\n1,2,x\n3,4,y\n5,abc,x\n");
    check_error(plugins, "csv:" + text, {text + ":4:", "'b'", "'abc' is not a number"});
    const std::string empty = write(dir, "empty.csv", "");
    check_error(plugins, "csv:" + empty, {empty, "empty"});
    const std::string iris = dir + "/iris.csv";
    check_error(plugins, "csv:" + iris + ",label=colour", {iris + ":1:", "no column named 'colour'"});
    check_error(plugins, "csv:" + dir + "/absent.csv", {dir + "/absent.csv", "cannot open"});
    check_error(plugins, "csv:" + iris + ",header=maybe", {"header must be yes or no"});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: csv_plugin_check <folder for the CSV files>\n");
        return 2;
    }
    try {
        PluginRegistry plugins;
        for (const auto& p : plugins.problems()) check(false, "plugin problem: " + p.path + ": " + p.message);
        const kiln_plugin* csv = plugins.find("csv");
        check(csv && csv->dataset, "PluginRegistry finds the csv plugin on KILN_PLUGIN_PATH");
        if (!csv) return 1;
        check_classification(plugins, argv[1]);
        check_numeric_labels_and_regression(plugins, argv[1]);
        check_bad_files(plugins, argv[1]);
    } catch (const std::exception& e) {
        std::printf("FAIL: unexpected exception: %s\n", e.what());
        return 1;
    }
    if (failures == 0) std::printf("the csv plugin works through the installed kiln\n");
    return failures == 0 ? 0 : 1;
}
