#include "kiln/report/save.h"

#include <string_view>
#include <vector>

#include "kiln/image/codec.h"
#include "kiln/io/atomic_file.h"

namespace kiln::report {

void save_png(const std::string& path, const image::Canvas& canvas) {
    const std::vector<uint8_t> png = image::encode_png(canvas.view());
    io::write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

}  // namespace kiln::report
