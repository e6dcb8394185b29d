// Tensor::str(): a printout that follows PyTorch's layout and number formatting.
#include <cmath>
#include <cstdio>
#include <ostream>

#include "kiln/tensor/tensor.h"

namespace kiln {
namespace {

// Tensors with more elements than this print only `edge_items` at each end of long dims.
constexpr int64_t summarize_threshold = 1000;
constexpr int64_t edge_items = 3;
constexpr int prefix_width = 7;  // strlen("tensor(")

// Every element as text, right-aligned to a common width. Floats follow PyTorch's choice: "2."
// when all values are integers, "0.5000" normally, "1.0000e+09" when magnitudes are extreme.
std::vector<std::string> format_cells(const Tensor& t) {
    std::vector<std::string> cells;
    char buf[64];
    if (t.dtype() == DType::f32) {
        const std::vector<float> values = t.to_vector<float>();
        bool integral = true;
        double max_abs = 0, min_abs = INFINITY;  // over finite non-zero values
        for (float v : values) {
            if (!std::isfinite(v)) continue;
            integral = integral && v == std::nearbyint(v);
            if (v != 0) {
                max_abs = std::max(max_abs, std::fabs(double(v)));
                min_abs = std::min(min_abs, std::fabs(double(v)));
            }
        }
        const bool sci = max_abs > 1e8 || (!integral && (min_abs < 1e-4 || max_abs / min_abs > 1000));
        const char* format = sci ? "%.4e" : integral ? "%.0f." : "%.4f";
        for (float v : values) {
            if (std::isnan(v)) cells.emplace_back("nan");
            else if (std::isinf(v)) cells.emplace_back(v > 0 ? "inf" : "-inf");
            else {
                std::snprintf(buf, sizeof buf, format, double(v));
                cells.emplace_back(buf);
            }
        }
    } else {
        for (int64_t v : t.to_vector<int64_t>()) cells.push_back(std::to_string(v));
    }
    size_t width = 0;
    for (const auto& c : cells) width = std::max(width, c.size());
    for (auto& c : cells) c.insert(0, width - c.size(), ' ');
    return cells;
}

// Writes the nested lists of `shape` from `cells` (row-major, consumed via `next`). Dims marked
// in `cut` show "..." between their first and last edge_items entries (" ..." within a row, as
// PyTorch pads it).
void write_nested(std::string& s, const std::vector<std::string>& cells, const Shape& shape,
                  const bool* cut, int depth, size_t& next) {
    if (depth == shape.rank) {
        s += cells[next++];
        return;
    }
    // Elements of the last dim share a line; deeper dims are separated by more newlines and
    // indented under the opening bracket.
    std::string separator = ",";
    if (depth == shape.rank - 1) {
        separator += ' ';
    } else {
        separator.append(size_t(shape.rank - 1 - depth), '\n');
        separator.append(size_t(prefix_width + depth + 1), ' ');
    }
    s += '[';
    for (int64_t i = 0; i < shape[depth]; ++i) {
        if (i > 0) s += separator;
        if (cut[depth] && i == edge_items) s += (depth == shape.rank - 1 ? " ..." : "...") + separator;
        write_nested(s, cells, shape, cut, depth + 1, next);
    }
    s += ']';
}

}  // namespace

std::string Tensor::str() const {
    // PyTorch names the dtype unless it is a default one (float32, int64).
    const std::string suffix =
        dtype_ == DType::f32 || dtype_ == DType::i64 ? "" : std::string(", dtype=") + dtype_name(dtype_);
    if (numel() == 0)
        return "tensor([]" + (shape_.rank == 1 ? std::string() : ", size=" + shape_.str()) + suffix + ")";

    // Summarize big tensors by keeping only the edges of long dims.
    Tensor shown = *this;
    bool cut[Shape::max_rank] = {};
    if (numel() > summarize_threshold) {
        for (int d = 0; d < shape_.rank; ++d) {
            if (shape_[d] <= 2 * edge_items) continue;
            cut[d] = true;
            shown = cat({shown.slice(d, 0, edge_items), shown.slice(d, -edge_items)}, d);
        }
    }
    const std::vector<std::string> cells = format_cells(shown);
    std::string s = "tensor(";
    size_t next = 0;
    write_nested(s, cells, shown.shape(), cut, 0, next);
    return s + suffix + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace kiln
