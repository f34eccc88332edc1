/* Which x86-64 SIMD extensions this CPU has, for code that picks its path
 * at run time (caption resize and base64). 0 on other architectures. */
#ifndef VC_UTIL_CPU_H
#define VC_UTIL_CPU_H

enum {
    VC_CPU_AVX2 = 1,
    VC_CPU_AVX512 = 2,   /* F, BW, VL and VBMI */
    VC_CPU_VNNI = 4,     /* AVX512-VNNI */
};

/* VC_CPU_* bits, detected once. */
int vc_cpu_flags(void);

#endif
