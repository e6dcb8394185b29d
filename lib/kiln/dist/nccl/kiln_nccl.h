/* The C entry point of libkiln-nccl.so, the NCCL communicator module (kiln/dist/communicator.h
 * dlopen()s it). The module is built with the same compiler and libkiln as its caller (it takes and
 * returns kiln::Communicator*); the ABI version guards against a module from another build. */
#ifndef KILN_NCCL_H
#define KILN_NCCL_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_NCCL_ABI_VERSION 1

/* A new kiln::Communicator that reduces device memory with NCCL over the ranks of `bootstrap` (a
 * kiln::Communicator*, the MPI one: it passes NCCL rank 0's unique id and does every host-memory
 * collective). The module owns `bootstrap` from this call on, and deletes it when it fails. The
 * communicator drives CUDA device `local_rank` mod the number of visible devices. Null with the
 * reason in `reason` (NUL-terminated, at most reason_size bytes) when there is no CUDA device or
 * NCCL cannot start within timeout_seconds. */
void* kiln_nccl_create_communicator(int abi_version, void* bootstrap, double timeout_seconds, int local_rank, char* reason,
                                    size_t reason_size);
typedef void* (*kiln_nccl_create_communicator_fn)(int, void*, double, int, char*, size_t);

#ifdef __cplusplus
}
#endif
#endif
