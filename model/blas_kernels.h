#ifndef INTENTD_BLAS_KERNELS_H
#define INTENTD_BLAS_KERNELS_H

#include <stddef.h>

/*
 * Choice of OpenBLAS compute kernels. A DYNAMIC_ARCH build of OpenBLAS picks
 * its kernels from a table of CPU model numbers when the library loads.
 * OpenBLAS 0.3.21 (Debian 12) does not know newer CPUs such as a Xeon
 * reported as "Intel(R) Xeon(R) Processor" with AVX-512 FP16, and falls back
 * to its Prescott (SSE3) kernels. On such a 2-core KVM guest `intentd run`
 * needed 1.9 to 2.2 times the CPU per event that way (tests/bench/RESULTS.md,
 * "OpenBLAS kernels"). The table is read only at load time, so the only remedy is the
 * OPENBLAS_CORETYPE environment variable, set before the program starts.
 */

/* Name of the kernel set OpenBLAS loaded, e.g. "SkylakeX" or "Prescott". */
const char *model_blas_kernels(void);

/* Name of the kernel set this CPU should use, from its instruction set:
 * "SkylakeX" (AVX-512 F, BW, DQ and VL), "Haswell" (AVX2 and FMA) or NULL
 * when OpenBLAS's own choice is as good as any. */
const char *model_blas_preferred_kernels(void);

/* Restarts the program (execv of /proc/self/exe with argv) with
 * OPENBLAS_CORETYPE set to the preferred kernels when OpenBLAS fell back to
 * generic kernels that this CPU can beat. Does nothing when
 * OPENBLAS_CORETYPE is already set, so an operator's choice wins and a
 * restart happens at most once. Call it first in main, before the program
 * starts threads or opens files (OpenBLAS's own thread pool already runs
 * and ends with the exec). Returns only when no restart was needed or the
 * exec failed; then note (note_size bytes) says why, or is empty. */
void model_blas_select_kernels(char **argv, char *note, size_t note_size);

/* 1 if kernels (case-insensitive) names an OpenBLAS kernel set without AVX,
 * the fallbacks of an unknown x86 CPU, else 0. */
int model_blas_is_generic(const char *kernels);

#endif
