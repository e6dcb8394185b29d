// PluginRegistry: finds dataset and transform plugins (shared objects named kiln-*.so), loads them
// with dlopen, checks their ABI version, and opens datasets and transform pipelines by name.
//
// Search order (the first plugin of a name wins; later ones are reported as shadowed):
//   1. each folder of KILN_PLUGIN_PATH (colon-separated)
//   2. the running executable's folder
//   3. <executable's folder>/../plugins (the build tree: build/tools/… finds build/plugins/)
//   4. the install folder, <libdir>/kiln/plugins (KILN_PLUGIN_DIR at build time)
// A file that fails to load (dlopen's message), lacks kiln_plugin_entry, or was built for another
// ABI version is not used; it is kept in problems() so `kiln-data plugins` can show why.
//
//   PluginRegistry plugins;                       // searches the default path
//   Dataset train = plugins.open_dataset("idx:/usr/share/datasets/fashion-mnist,split=train");
//   TransformPipeline aug = plugins.pipeline("random_horizontal_flip;to_tensor");
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/data/dataset.h"
#include "kiln/data/plugin.h"

namespace kiln::data {

struct PluginInfo {
    std::string name, version, description;
    std::string path;                     // the shared object, or the origin given to add()
    bool has_dataset = false;
    std::vector<std::string> transforms;  // names of the transforms it offers
};

struct PluginProblem {
    std::string path;
    std::string message;  // e.g. "plugin /p/kiln-foo.so was built for plugin ABI 2, this kiln uses ABI 1"
};

class PluginRegistry {
public:
    // The folders searched by default, in order (folders that do not exist are kept; they are
    // simply empty).
    static std::vector<std::string> default_search_path();

    // Loads every kiln-*.so in the folders, in order, each folder's files sorted by name.
    PluginRegistry() : PluginRegistry(default_search_path()) {}
    explicit PluginRegistry(const std::vector<std::string>& folders);
    ~PluginRegistry();
    PluginRegistry(const PluginRegistry&) = delete;
    PluginRegistry& operator=(const PluginRegistry&) = delete;

    // Loads one shared object and registers its plugin; throws Error (Errc::plugin) with the
    // reason if it cannot be used.
    PluginInfo load(const std::string& path);
    // Registers a plugin compiled into the program (built-in transforms, tests). `origin` is shown
    // as its path. Throws if its ABI version differs or its name is already taken.
    PluginInfo add(const kiln_plugin& plugin, std::string origin = "built-in");

    const std::vector<std::string>& search_path() const { return search_path_; }
    const std::vector<PluginInfo>& plugins() const { return infos_; }
    const std::vector<PluginProblem>& problems() const { return problems_; }

    // nullptr when there is none of that name.
    const kiln_plugin* find(std::string_view name) const;
    const kiln_transform_api* find_transform(std::string_view name) const;

    // "<plugin>:<config>", e.g. "idx:/data/fashion-mnist,split=test". Throws Error naming what is
    // available when the plugin is unknown or offers no dataset, or with the plugin's message.
    Dataset open_dataset(std::string_view spec) const;
    // Parses a pipeline in the grammar of kiln/data/README.md: steps separated by ';', each
    // `name` or `name=config` ("resize=64;random_horizontal_flip=p=0.5;to_tensor").
    TransformPipeline pipeline(std::string_view text) const;

private:
    struct Entry;
    PluginInfo enter(const kiln_plugin& plugin, std::string path, std::shared_ptr<const void> library);
    std::string available(bool datasets) const;

    std::vector<std::string> search_path_;
    std::vector<std::unique_ptr<Entry>> entries_;
    std::vector<PluginInfo> infos_;
    std::vector<PluginProblem> problems_;
};

}  // namespace kiln::data
