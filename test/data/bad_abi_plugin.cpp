// A plugin built for an ABI version this kiln does not speak: the registry must refuse it and
// say both versions.
#include "kiln/data/plugin.h"

namespace {
const kiln_plugin plugin = {
    .abi_version = 999,
    .name = "bad-abi",
    .version = "0.0.1",
    .description = "built for another plugin ABI",
    .dataset = nullptr,
    .n_transforms = 0,
    .transforms = nullptr,
};
}  // namespace

extern "C" __attribute__((visibility("default"))) const kiln_plugin* kiln_plugin_entry(void) { return &plugin; }
