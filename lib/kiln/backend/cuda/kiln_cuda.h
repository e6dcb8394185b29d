/* The C entry points of libkiln-cuda.so, the separately loaded CUDA backend (installed in
 * <libdir>/kiln/). libkiln never links it: make_backend("cuda") dlopen()s the module on first use
 * and dlsym()s these names, so a build or a machine without CUDA loses only this backend, and a
 * process that never asks for it never loads the CUDA runtime. */
#ifndef KILN_BACKEND_CUDA_KILN_CUDA_H
#define KILN_BACKEND_CUDA_KILN_CUDA_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the layout of what crosses the boundary (kiln::Backend, kiln::KernelCall and
 * the op table) changes; kiln_cuda_create_backend refuses a caller built for another one. */
#define KILN_CUDA_ABI_VERSION 2

/* Number of usable CUDA devices. 0 when there is none, no driver, or any CUDA error; then `reason`
 * (when not NULL) receives why, NUL-terminated within `reason_size` bytes. The CUDA error state is
 * cleared either way. */
int kiln_cuda_device_count(char* reason, size_t reason_size);

/* A new kiln::Backend (C++, built from the same kiln sources) on CUDA device `device`, to be
 * deleted by the caller through its virtual destructor; NULL with `reason` filled when there is no
 * such device, CUDA or cuBLAS cannot start, or the caller's abi_version / op_count /
 * kernel_call_size (its KILN_CUDA_ABI_VERSION, kiln::op_count and sizeof(kiln::KernelCall)) differ
 * from the module's. `device` comes last so that a caller of ABI 1 (which had no such argument)
 * still passes `reason` where the module reads it, and hears why it is refused. */
void* kiln_cuda_create_backend(int abi_version, int op_count, size_t kernel_call_size, char* reason, size_t reason_size, int device);

typedef int (*kiln_cuda_device_count_fn)(char*, size_t);
typedef void* (*kiln_cuda_create_backend_fn)(int, int, size_t, char*, size_t, int);

#ifdef __cplusplus
}
#endif
#endif
