// What data-parallel training (issue 16) adds to a program beside its gradient allreduce
// (Program::set_communicator): the same starting state on every rank, and the same BatchNorm
// running statistics. fit() and evaluate() reduce their metrics over the program's communicator
// themselves; kiln-train shards its loaders (DataLoaderOptions::shard).
//
//   kiln::train::DataParallel dp(*program, *comm);  // host buffers sized once
//   dp.broadcast_state();                           // rank 0's weights (and optimizer state) everywhere
//   program->set_communicator(comm.get());
//   … fit(…) calls dp-like averaging of the running statistics after every epoch …
#pragma once
#include <cstdint>
#include <vector>

#include "kiln/dist/communicator.h"
#include "kiln/runtime/program.h"

namespace kiln::train {

class DataParallel {
public:
    DataParallel(Program& program, Communicator& comm);
    // Every state entry — parameters, buffers, optimizer state — and the step count copied from
    // `root` to the other ranks: they start (or resume) from the same state.
    void broadcast_state(int root = 0);
    // The f32 buffers (BatchNorm's running mean and variance) averaged over the ranks. Each rank
    // normalises its batches by their own statistics (PyTorch DDP without SyncBatchNorm) and so
    // updates its running statistics differently; averaging them at the end of an epoch makes the
    // state every rank evaluates with, and rank 0 saves, the same — the mean over the ranks'
    // statistics.
    void average_buffers();

private:
    Program& program_;
    Communicator& comm_;
    std::vector<unsigned char> staging_;  // the largest state entry
};

}  // namespace kiln::train
