// KILN_HD marks arithmetic shared by CPU and CUDA kernels: __host__ __device__ under nvcc,
// nothing under a plain C++ compiler, so the same function is unit-tested on the CPU.
#pragma once
#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ inline
#else
#define KILN_HD inline
#endif
