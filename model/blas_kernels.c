#include "blas_kernels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);

const char *model_blas_kernels(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

const char *model_blas_preferred_kernels(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
#endif
    return NULL;
}

int model_blas_is_generic(const char *kernels)
{
    static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                          "Coppermine", "Northwood", "Banias", NULL};

    for (int i = 0; generic[i]; i++)
        if (strcasecmp(kernels, generic[i]) == 0)
            return 1;
    return 0;
}

void model_blas_select_kernels(char **argv, char *note, size_t note_size)
{
    const char *loaded = model_blas_kernels();
    const char *preferred = model_blas_preferred_kernels();

    note[0] = '\0';
    if (getenv("OPENBLAS_CORETYPE") || !preferred || !model_blas_is_generic(loaded))
        return;

    if (setenv("OPENBLAS_CORETYPE", preferred, 1) != 0) {
        snprintf(note, note_size, "OpenBLAS loaded its %s kernels on a CPU that runs %s; setting OPENBLAS_CORETYPE "
                 "failed (%s): set OPENBLAS_CORETYPE=%s in the environment", loaded, preferred, strerror(errno),
                 preferred);
        return;
    }
    execv("/proc/self/exe", argv);

    snprintf(note, note_size, "OpenBLAS loaded its %s kernels on a CPU that runs %s; restarting with "
             "OPENBLAS_CORETYPE=%s failed (%s): set it in the environment", loaded, preferred, preferred,
             strerror(errno));
    unsetenv("OPENBLAS_CORETYPE");
}
