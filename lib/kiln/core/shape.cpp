#include "kiln/core/shape.h"

#include <algorithm>

#include "kiln/core/error.h"

namespace kiln {

Shape::Shape(std::initializer_list<int64_t> d) {
    for (int64_t v : d) push_back(v);
}

void Shape::push_back(int64_t d) {
    if (rank == max_rank)
        fail(Errc::invalid_argument, "shape has more than " + std::to_string(max_rank) + " dimensions");
    dims[rank++] = d;
}

int Shape::axis(int a, const char* what) const {
    int r = a < 0 ? a + rank : a;
    if (r < 0 || r >= std::max(rank, 1))
        fail(Errc::invalid_argument, std::string(what) + ": axis " + std::to_string(a) +
                                         " is out of range for shape " + str());
    return r;
}

std::string Shape::str() const {
    std::string s = "[";
    for (int i = 0; i < rank; ++i) {
        if (i) s += ", ";
        s += std::to_string(dims[i]);
    }
    return s + "]";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what) {
    Shape out;
    out.rank = std::max(a.rank, b.rank);
    for (int i = 0; i < out.rank; ++i) {
        int ia = a.rank - out.rank + i, ib = b.rank - out.rank + i;
        int64_t da = ia >= 0 ? a.dims[ia] : 1, db = ib >= 0 ? b.dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            fail(Errc::shape_mismatch, std::string(what) + ": shapes " + a.str() + " and " + b.str() +
                                           " cannot be broadcast together");
        out.dims[i] = da == 1 ? db : da;
    }
    return out;
}

}  // namespace kiln
