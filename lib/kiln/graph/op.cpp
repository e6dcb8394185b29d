#include "kiln/graph/op.h"

namespace kiln {

namespace {
constexpr const char* names[] = {
#define KILN_OP_NAME(name) #name,
    KILN_OPS(KILN_OP_NAME)
#undef KILN_OP_NAME
};
static_assert(sizeof(names) / sizeof(names[0]) == op_count, "one name per op");
}  // namespace

const char* op_name(Op op) { return names[static_cast<int>(op)]; }

}  // namespace kiln
