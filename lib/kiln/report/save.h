// Pictures written whole or not at all (kiln/io/atomic_file.h): a reader of the run folder never
// sees half a PNG, and a failed write leaves the previous file in place.
#pragma once
#include <string>

#include "kiln/image/draw.h"

namespace kiln::report {

// The canvas as an 8-bit RGB PNG, atomically; Error(io) names the path and the reason.
void save_png(const std::string& path, const image::Canvas& canvas);

}  // namespace kiln::report
