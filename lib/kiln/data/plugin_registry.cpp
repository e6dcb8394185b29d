#include "kiln/data/plugin_registry.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "kiln/core/error.h"

#ifndef KILN_PLUGIN_DIR
#define KILN_PLUGIN_DIR "/usr/local/lib/kiln/plugins"
#endif

namespace kiln::data {

namespace fs = std::filesystem;

namespace {

std::string exe_dir() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    buf[n] = '\0';
    return fs::path(buf).parent_path().string();
}

// A dlopen handle, closed when the last dataset, transform or registry using it is gone.
std::shared_ptr<const void> open_library(const std::string& path) {
    dlerror();
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* why = dlerror();
        fail(Errc::plugin, "plugin " + path + " could not be loaded: " + (why ? why : "dlopen failed"));
    }
    return std::shared_ptr<const void>(h, [](const void* p) { dlclose(const_cast<void*>(p)); });
}

std::string_view trim(std::string_view s) {
    const char* ws = " \t\r\n";
    size_t b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

struct PluginRegistry::Entry {
    const kiln_plugin* plugin;
    std::shared_ptr<const void> library;  // null for built-ins
};

std::vector<std::string> PluginRegistry::default_search_path() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("KILN_PLUGIN_PATH")) {
        std::string_view rest = env;
        while (!rest.empty()) {
            size_t colon = std::min(rest.find(':'), rest.size());
            if (colon > 0) dirs.emplace_back(rest.substr(0, colon));
            rest.remove_prefix(std::min(colon + 1, rest.size()));
        }
    }
    if (std::string exe = exe_dir(); !exe.empty()) {
        dirs.push_back(exe);
        dirs.push_back((fs::path(exe).parent_path() / "plugins").string());
    }
    dirs.emplace_back(KILN_PLUGIN_DIR);
    return dirs;
}

PluginRegistry::PluginRegistry(const std::vector<std::string>& folders) : search_path_(folders) {
    std::vector<fs::path> seen;  // canonical paths: one folder may appear twice in the path
    for (const auto& folder : folders) {
        std::error_code ec;
        if (!fs::is_directory(folder, ec)) continue;
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(folder, ec)) {
            const std::string name = e.path().filename().string();
            if (name.size() > 8 && name.rfind("kiln-", 0) == 0 && name.compare(name.size() - 3, 3, ".so") == 0 &&
                e.is_regular_file(ec))
                files.push_back(e.path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            fs::path canonical = fs::weakly_canonical(file, ec);
            if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
            seen.push_back(canonical);
            try {
                load(file.string());
            } catch (const Error& e) {
                problems_.push_back({file.string(), e.what()});
            }
        }
    }
}

PluginRegistry::~PluginRegistry() = default;

PluginInfo PluginRegistry::load(const std::string& path) {
    std::shared_ptr<const void> library = open_library(path);
    dlerror();
    void* symbol = dlsym(const_cast<void*>(library.get()), KILN_PLUGIN_ENTRY_SYMBOL);
    if (!symbol) {
        const char* why = dlerror();
        fail(Errc::plugin, "plugin " + path + " has no " KILN_PLUGIN_ENTRY_SYMBOL " function" +
                               (why ? std::string(" (") + why + ")" : std::string()));
    }
    auto entry = reinterpret_cast<kiln_plugin_entry_fn>(symbol);
    const kiln_plugin* plugin = entry();
    if (!plugin) fail(Errc::plugin, "plugin " + path + ": " KILN_PLUGIN_ENTRY_SYMBOL " returned no plugin");
    return enter(*plugin, path, std::move(library));
}

PluginInfo PluginRegistry::add(const kiln_plugin& plugin, std::string origin) { return enter(plugin, std::move(origin), nullptr); }

PluginInfo PluginRegistry::enter(const kiln_plugin& plugin, std::string path, std::shared_ptr<const void> library) {
    if (plugin.abi_version < KILN_PLUGIN_ABI_OLDEST || plugin.abi_version > KILN_PLUGIN_ABI_VERSION)
        fail(Errc::plugin, "plugin " + path + " was built for plugin ABI " + std::to_string(plugin.abi_version) +
                               ", this kiln uses ABI " + std::to_string(KILN_PLUGIN_ABI_VERSION) + " (and reads ABI " +
                               std::to_string(KILN_PLUGIN_ABI_OLDEST) + " and later)");
    if (!plugin.name || !*plugin.name) fail(Errc::plugin, "plugin " + path + " has no name");
    if (const kiln_dataset_api* d = plugin.dataset) {
        const char* missing = !d->open ? "open" : !d->close ? "close" : !d->length ? "length" : !d->num_classes ? "num_classes"
                              : !d->class_name ? "class_name" : !d->sample_shape ? "sample_shape" : !d->get ? "get" : nullptr;
        if (missing) fail(Errc::plugin, "plugin " + path + ": its dataset API has no " + missing + " function");
    }
    if (plugin.n_transforms < 0 || (plugin.n_transforms > 0 && !plugin.transforms))
        fail(Errc::plugin, "plugin " + path + " declares " + std::to_string(plugin.n_transforms) +
                               " transforms but gives no valid list");
    for (const auto& info : infos_)
        if (info.name == plugin.name)
            fail(Errc::plugin, "plugin " + path + " is shadowed by " + info.path + " (both are named '" + plugin.name +
                                   "'; the first found is used)");
    PluginInfo info;
    info.name = plugin.name;
    info.version = plugin.version ? plugin.version : "";
    info.description = plugin.description ? plugin.description : "";
    info.path = std::move(path);
    info.has_dataset = plugin.dataset != nullptr;
    for (int32_t i = 0; i < plugin.n_transforms; ++i) {
        const kiln_transform_api* t = plugin.transforms[i];
        if (!t || !t->name || !t->create || !t->destroy || !t->apply)
            fail(Errc::plugin, "plugin " + info.path + ": transform " + std::to_string(i) + " is incomplete");
        info.transforms.emplace_back(t->name);
    }
    entries_.push_back(std::make_unique<Entry>(Entry{&plugin, std::move(library)}));
    infos_.push_back(std::move(info));
    return infos_.back();
}

const kiln_plugin* PluginRegistry::find(std::string_view name) const {
    for (const auto& e : entries_)
        if (name == e->plugin->name) return e->plugin;
    return nullptr;
}

const kiln_transform_api* PluginRegistry::find_transform(std::string_view name) const {
    for (const auto& e : entries_)
        for (int32_t i = 0; i < e->plugin->n_transforms; ++i)
            if (name == e->plugin->transforms[i]->name) return e->plugin->transforms[i];
    return nullptr;
}

std::string PluginRegistry::available(bool datasets) const {
    std::string list;
    for (const auto& e : entries_) {
        if (datasets && e->plugin->dataset) list += (list.empty() ? "" : ", ") + std::string(e->plugin->name);
        if (!datasets)
            for (int32_t i = 0; i < e->plugin->n_transforms; ++i)
                list += (list.empty() ? "" : ", ") + std::string(e->plugin->transforms[i]->name);
    }
    std::string text = list.empty() ? "none found" : "available: " + list;
    std::string where;
    for (const auto& dir : search_path_) where += (where.empty() ? "" : ":") + dir;
    text += "; searched " + (where.empty() ? std::string("no folders") : where);
    if (!problems_.empty())
        text += "; " + std::to_string(problems_.size()) + " plugin file(s) could not be used, e.g. " +
                problems_.front().message + " (kiln-data plugins lists them)";
    return text;
}

Dataset PluginRegistry::open_dataset(std::string_view spec) const {
    const size_t colon = spec.find(':');
    if (colon == std::string_view::npos || colon == 0)
        fail(Errc::invalid_argument, "dataset '" + std::string(spec) +
                                         "' needs the form <plugin>:<config>, e.g. idx:/usr/share/datasets/fashion-mnist,split=test");
    const std::string name(trim(spec.substr(0, colon)));
    for (const auto& e : entries_)
        if (name == e->plugin->name) {
            if (!e->plugin->dataset)
                fail(Errc::invalid_argument, "plugin '" + name + "' offers no dataset (" + available(true) + ")");
            return Dataset::open(*e->plugin->dataset, name, spec.substr(colon + 1), e->library, e->plugin->abi_version);
        }
    fail(Errc::invalid_argument, "no dataset plugin named '" + name + "' (" + available(true) + ")");
}

TransformPipeline PluginRegistry::pipeline(std::string_view text) const {
    TransformPipeline p;
    while (!text.empty()) {
        const size_t semi = std::min(text.find(';'), text.size());
        std::string_view step = trim(text.substr(0, semi));
        text.remove_prefix(std::min(semi + 1, text.size()));
        if (step.empty()) continue;
        const size_t eq = step.find('=');
        const std::string name(trim(step.substr(0, eq)));
        const std::string_view config = eq == std::string_view::npos ? std::string_view() : trim(step.substr(eq + 1));
        const kiln_transform_api* api = nullptr;
        std::shared_ptr<const void> library;
        for (const auto& e : entries_)
            for (int32_t i = 0; i < e->plugin->n_transforms && !api; ++i)
                if (name == e->plugin->transforms[i]->name) api = e->plugin->transforms[i], library = e->library;
        if (!api) fail(Errc::invalid_argument, "no transform named '" + name + "' (" + available(false) + ")");
        p.add(*api, config, std::move(library));
    }
    return p;
}

}  // namespace kiln::data
