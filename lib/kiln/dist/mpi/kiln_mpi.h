/* The C entry point of libkiln-mpi.so, the MPI communicator module (kiln/dist/communicator.h
 * dlopen()s it). The module is built with the same compiler and libkiln as its caller (it returns a
 * kiln::Communicator*); the ABI version guards against a module from another build. */
#ifndef KILN_MPI_H
#define KILN_MPI_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_MPI_ABI_VERSION 2

/* A new kiln::Communicator over MPI_COMM_WORLD (MPI_Init_thread on first use), or null with the
 * reason in `reason` (NUL-terminated, at most reason_size bytes). */
void* kiln_mpi_create_communicator(int abi_version, double timeout_seconds, char* reason, size_t reason_size);
typedef void* (*kiln_mpi_create_communicator_fn)(int, double, char*, size_t);

#ifdef __cplusplus
}
#endif
#endif
