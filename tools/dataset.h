// Opening a dataset in kiln-train and kiln-infer: the plugin's notes on it (files left out and
// why) are printed as warnings, once, as the tool opens it.
//   kiln-train: warning: imagefolder:photos: left out 2 files whose extension kiln does not read: …
#pragma once
#include <cstdio>
#include <string>

#include "kiln/data/plugin_registry.h"

namespace kiln::tools {

inline kiln::data::Dataset open_dataset(const kiln::data::PluginRegistry& plugins, const std::string& spec, const char* tool) {
    kiln::data::Dataset data = plugins.open_dataset(spec);
    for (const std::string& note : data.notes()) std::fprintf(stderr, "%s: warning: %s: %s\n", tool, data.spec().c_str(), note.c_str());
    return data;
}

}  // namespace kiln::tools
