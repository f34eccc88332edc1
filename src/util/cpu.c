#include "util/cpu.h"

#include <stdatomic.h>

static int detect(void)
{
    int f = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        f |= VC_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vbmi"))
        f |= VC_CPU_AVX512;
    if (__builtin_cpu_supports("avx512vnni"))
        f |= VC_CPU_VNNI;
#endif
    return f;
}

int vc_cpu_flags(void)
{
    static atomic_int flags = -1;   /* detection is idempotent: a race only repeats it */
    int f = atomic_load_explicit(&flags, memory_order_relaxed);
    if (f < 0) {
        f = detect();
        atomic_store_explicit(&flags, f, memory_order_relaxed);
    }
    return f;
}
