// The ImageFolder layout root/<class>/…/<image>, listed as torchvision.datasets.ImageFolder lists it,
// so that class indices and sample order match a model trained with torchvision:
// - classes are every sub-folder of root (symlinks followed, hidden ones included, as
//   find_classes takes them), sorted by name in code-point order (Python's sorted(); for UTF-8
//   names that is byte order), and a class's index is its place in that order (class_to_idx);
// - a class's samples are the image files anywhere below its folder (sub-folders and symlinked
//   folders included, as os.walk(followlinks=True)), ordered as sorted(os.walk(...)) then
//   sorted(file names) order them: by folder path, then by name;
// - image files are names ending in .png, .jpg or .jpeg in any case (torchvision also takes
//   .bmp, .webp, … which kiln cannot decode); other files below the class folders are left out,
//   counted by extension in Folder::skipped (torchvision leaves them out without a word);
// - unlike os.walk, every folder is read once, tracked by (device, inode): a symlink loop ends.
// Layout problems are Errors naming the folder: a root that cannot be read, a root without
// class folders, classes without image files (torchvision's "Found no valid file for the
// classes …"), a sub-folder that cannot be read.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::imagefolder {

class Folder {
public:
    std::vector<std::string> classes;  // index = label
    // Files below the class folders left out for their extension: lower-case extension (".bmp",
    // "" for none) → how many.
    std::map<std::string, int64_t> skipped;
    // "left out 3 files whose extension kiln does not read: .bmp (2), .gif (1) …", or "".
    std::string skipped_note() const;
    int64_t size() const { return static_cast<int64_t>(labels_.size()); }
    const char* path(int64_t i) const { return paths_.data() + starts_[i]; }
    int32_t label(int64_t i) const { return labels_[i]; }
    void add(const std::string& path, int32_t label);

private:
    std::string paths_;  // every path, each ended by '\0': one block, not an allocation per file
    std::vector<size_t> starts_;
    std::vector<int32_t> labels_;
};

bool is_image_name(std::string_view name);
Folder scan_folder(const std::string& root);

}  // namespace kiln::imagefolder
