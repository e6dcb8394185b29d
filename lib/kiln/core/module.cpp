#include "kiln/core/module.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace kiln {

namespace {
std::vector<std::string> candidates(const char* env, const char* file, const char* build_dir) {
    if (const char* path = std::getenv(env); path && *path) return {path};
    std::vector<std::string> paths;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&candidates), &info) && info.dli_fname) {
        std::string dir = info.dli_fname;
        dir = dir.find('/') == std::string::npos ? "." : dir.substr(0, dir.rfind('/'));
        paths.push_back(dir + "/kiln/" + file);
        paths.push_back(dir + "/" + build_dir + "/" + file);
    }
    paths.push_back(std::string(KILN_BACKEND_DIR) + "/" + file);
    return paths;
}
}  // namespace

ModuleEntry load_module(const char* env, const char* file, const char* build_dir, const char* symbol, int dlopen_flags,
                        const std::string& what, const std::string& hint) {
    ModuleEntry m;
    std::string tried;
    for (const std::string& path : candidates(env, file, build_dir)) {
        void* handle = dlopen(path.c_str(), dlopen_flags);
        if (!handle) {
            const char* why = dlerror();
            if (std::getenv(env) || (why && !std::string(why).ends_with("No such file or directory"))) {
                m.error = "cannot load " + path + ": " + (why ? why : "unknown error");
                return m;
            }
            tried += (tried.empty() ? "" : ", ") + path;
            continue;
        }
        m.function = dlsym(handle, symbol);
        if (!m.function) m.error = path + " has no " + symbol + " (not a kiln " + what + ")";
        return m;
    }
    m.error = "this build of kiln has no " + what + " (" + file + " is not in " + tried + "; " + hint + ")";
    return m;
}

}  // namespace kiln
