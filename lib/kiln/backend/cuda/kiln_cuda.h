/* The C entry points of libkiln-cuda.so, the separately loaded CUDA backend (installed in
 * <libdir>/kiln/). libkiln never links it: a caller dlopen()s the module and dlsym()s these names,
 * so a build or a machine without CUDA loses only this backend.
 *
 *   void* m = dlopen("libkiln-cuda.so", RTLD_NOW | RTLD_LOCAL);
 *   kiln_cuda_device_count_fn count = (kiln_cuda_device_count_fn)dlsym(m, "kiln_cuda_device_count");
 *   char why[256];
 *   if (count(why, sizeof why) == 0) printf("no CUDA device (%s)\n", why);
 */
#ifndef KILN_BACKEND_CUDA_KILN_CUDA_H
#define KILN_BACKEND_CUDA_KILN_CUDA_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices. 0 when there is none, no driver, or any CUDA error; then `reason`
 * (when not NULL) receives why, NUL-terminated within `reason_size` bytes. The CUDA error state is
 * cleared either way. */
int kiln_cuda_device_count(char* reason, size_t reason_size);

/* Runs y = a·x + y on device 0 for n elements (n > 0) and checks the result against the same
 * arithmetic on the host. Returns 0 when it matches, 1 when there is no device, -1 on a CUDA error
 * or a mismatch; `reason` says which. */
int kiln_cuda_axpy_selftest(int n, char* reason, size_t reason_size);

typedef int (*kiln_cuda_device_count_fn)(char*, size_t);
typedef int (*kiln_cuda_axpy_selftest_fn)(int, char*, size_t);

#ifdef __cplusplus
}
#endif
#endif
