// The CUDA backend's axpy arithmetic, y = a·x + y, as a KILN_HD function: the kernel in module.cu
// calls it on the device, and test/cuda checks it on the CPU with plain g++.
#pragma once
#include "kiln/core/hostdevice.h"

namespace kiln::cuda {

KILN_HD float axpy(float a, float x, float y) { return a * x + y; }

}  // namespace kiln::cuda
