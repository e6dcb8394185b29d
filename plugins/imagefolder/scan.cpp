#include "scan.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <system_error>
#include <utility>

#include "kiln/core/error.h"

namespace kiln::imagefolder {
namespace {

std::string system_reason(int err) { return std::system_category().message(err); }

std::string join(const std::string& dir, const std::string& name) {
    return !dir.empty() && dir.back() == '/' ? dir + name : dir + "/" + name;
}

enum class Kind { folder, file, other };

// What an entry is, following symlinks. A broken symlink counts as a file, as os.walk lists it:
// reading it later fails with the reason. FIFOs, sockets and devices are left out (reading a FIFO
// named x.png would block).
Kind kind_of(const std::string& path, unsigned char d_type) {
    if (d_type == DT_DIR) return Kind::folder;
    if (d_type == DT_REG) return Kind::file;
    if (d_type != DT_LNK && d_type != DT_UNKNOWN) return Kind::other;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Kind::file;
    if (S_ISDIR(st.st_mode)) return Kind::folder;
    return S_ISREG(st.st_mode) ? Kind::file : Kind::other;
}

// An open folder, closed on every path out.
struct Dir {
    DIR* handle;
    explicit Dir(const std::string& path) : handle(::opendir(path.c_str())) {}
    ~Dir() {
        if (handle) ::closedir(handle);
    }
    Dir(const Dir&) = delete;
    Dir& operator=(const Dir&) = delete;
};

[[noreturn]] void fail_folder(const std::string& path, int err) {
    if (err == ENOENT) fail(Errc::io, path + ": folder does not exist");
    if (err == ENOTDIR) fail(Errc::io, path + ": not a folder");
    fail(Errc::io, path + ": cannot read folder: " + system_reason(err));
}

struct Listing {
    std::vector<std::string> folders;  // names of sub-folders
    std::vector<std::string> files;    // names of image files
    std::vector<std::string> others;   // names of other files
};

// The lower-case extension of a file name: ".bmp", or "" when it has none.
std::string extension_of(const std::string& name) {
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) return {};
    std::string ext = name.substr(dot);
    for (char& c : ext) c = c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
    return ext;
}

using FolderId = std::pair<dev_t, ino_t>;

// Lists a folder unless it was listed before (reached again through a symlink); false then.
bool list(const std::string& path, std::set<FolderId>& seen, Listing& out) {
    Dir dir(path);
    if (!dir.handle) fail_folder(path, errno);
    struct stat st;
    if (::fstat(::dirfd(dir.handle), &st) != 0) fail_folder(path, errno);
    if (!seen.insert({st.st_dev, st.st_ino}).second) return false;
    errno = 0;
    while (const dirent* entry = ::readdir(dir.handle)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        Kind kind = kind_of(join(path, name), entry->d_type);
        if (kind == Kind::folder) out.folders.push_back(std::move(name));
        if (kind == Kind::file) (is_image_name(name) ? out.files : out.others).push_back(std::move(name));
        errno = 0;
    }
    if (errno != 0) fail_folder(path, errno);
    return true;
}

// One class: the image files of every folder below class_dir. Folders are taken smallest path
// first; a sub-folder's path extends its parent's, so they come out in sorted path order, the order
// of torchvision's sorted(os.walk(...)). That order depends only on the names (not on readdir's
// order), so when two paths lead to one folder the same one is kept on every machine.
void add_class(Folder& folder, const std::string& class_dir, int32_t label) {
    std::set<FolderId> seen;
    std::set<std::string> pending{class_dir};
    while (!pending.empty()) {
        std::string path = std::move(pending.extract(pending.begin()).value());
        Listing listing;
        if (!list(path, seen, listing)) continue;
        for (const auto& sub : listing.folders) pending.insert(join(path, sub));
        std::sort(listing.files.begin(), listing.files.end());
        for (const auto& name : listing.files) folder.add(join(path, name), label);
        for (const auto& name : listing.others) ++folder.skipped[extension_of(name)];
    }
}

}  // namespace

void Folder::add(const std::string& path, int32_t label) {
    starts_.push_back(paths_.size());
    paths_ += path;
    paths_ += '\0';
    labels_.push_back(label);
}

std::string Folder::skipped_note() const {
    int64_t total = 0;
    std::string list;
    for (const auto& [ext, n] : skipped) {
        total += n;
        list += (list.empty() ? "" : ", ") + (ext.empty() ? std::string("no extension") : ext) + " (" + std::to_string(n) + ")";
    }
    if (total == 0) return {};
    return "left out " + std::to_string(total) + " file" + (total == 1 ? "" : "s") +
           " whose extension kiln does not read: " + list + " (kiln reads .png, .jpg and .jpeg)";
}

bool is_image_name(std::string_view name) {
    auto ends_with = [&](std::string_view ext) {
        if (name.size() <= ext.size()) return false;
        std::string_view tail = name.substr(name.size() - ext.size());
        return std::equal(tail.begin(), tail.end(), ext.begin(), [](char a, char b) {
            return (a >= 'A' && a <= 'Z' ? char(a - 'A' + 'a') : a) == b;
        });
    };
    return ends_with(".png") || ends_with(".jpg") || ends_with(".jpeg");
}

Folder scan_folder(const std::string& root) {
    if (root.empty()) fail(Errc::invalid_argument, "imagefolder: no root folder given");
    std::set<FolderId> seen_root;
    Listing top;
    list(root, seen_root, top);

    if (top.folders.empty())
        fail(Errc::format, root + ": no class folders found; an image folder holds " + join(root, "<class>") +
                               "/<image files>");
    Folder folder;
    folder.classes = std::move(top.folders);
    std::sort(folder.classes.begin(), folder.classes.end());
    std::string empty;
    for (size_t c = 0; c < folder.classes.size(); ++c) {
        std::string dir = join(root, folder.classes[c]);
        int64_t before = folder.size();
        add_class(folder, dir, static_cast<int32_t>(c));
        if (folder.size() == before) empty += (empty.empty() ? "" : ", ") + dir;
    }
    if (!empty.empty())
        fail(Errc::format, root + ": found no valid file for the classes in " + empty +
                               " (image files end in .png, .jpg or .jpeg, in any case)");
    return folder;
}

}  // namespace kiln::imagefolder
