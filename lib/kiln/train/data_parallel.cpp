#include "kiln/train/data_parallel.h"

#include <algorithm>

namespace kiln::train {

DataParallel::DataParallel(Program& program, Communicator& comm) : program_(program), comm_(comm) {
    size_t largest = 0;
    for (const StateEntry& e : program_.state()) largest = std::max(largest, e.bytes);
    staging_.resize(largest);
}

void DataParallel::broadcast_state(int root) {
    if (comm_.size() == 1) return;
    for (const StateEntry& e : program_.state()) {
        program_.read_state(e, staging_.data());
        comm_.broadcast(staging_.data(), e.bytes, root);
        program_.write_state(e, staging_.data());
    }
    int64_t step = program_.step_count();
    comm_.broadcast(&step, sizeof step, root);
    program_.set_step_count(step);
}

void DataParallel::average_buffers() {
    if (comm_.size() == 1) return;
    for (const StateEntry& e : program_.state()) {
        if (e.kind != StateEntry::buffer || e.dtype != DType::f32) continue;
        float* v = reinterpret_cast<float*>(staging_.data());
        program_.read_state(e, v);
        comm_.allreduce_average(v, e.bytes / sizeof(float));
        program_.write_state(e, v);
    }
}

}  // namespace kiln::train
