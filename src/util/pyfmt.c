#include "util/pyfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *vc_py_float_repr(double x, char buf[VC_PY_FLOAT_REPR_MAX])
{
    if (isnan(x)) {
        strcpy(buf, "nan");
        return buf;
    }
    if (isinf(x)) {
        strcpy(buf, x < 0 ? "-inf" : "inf");
        return buf;
    }
    if (x == 0) {
        strcpy(buf, signbit(x) ? "-0.0" : "0.0");
        return buf;
    }
    /* Shortest number of significant digits that reads back exactly. */
    char sci[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, x);
        if (strtod(sci, NULL) == x)
            break;
    }
    /* sci is "[-]d.ddde[+-]XX": split into sign, digits and exponent. */
    const char *p = sci;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    digits[nd] = 0;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;

    char *o = buf;
    if (neg)
        *o++ = '-';
    if (exp10 >= -5 + 1 && exp10 < 16) {
        /* Fixed notation, as Python's repr uses for 1e-4 <= |x| < 1e16. */
        if (exp10 < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                *o++ = '0';
            memcpy(o, digits, (size_t)nd);
            o += nd;
        } else {
            for (int i = 0; i <= exp10; i++)
                *o++ = i < nd ? digits[i] : '0';
            *o++ = '.';
            if (nd > exp10 + 1) {
                memcpy(o, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
                o += nd - exp10 - 1;
            } else {
                *o++ = '0';
            }
        }
        *o = 0;
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        snprintf(o, 16, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10) % 1000);
    }
    return buf;
}

double vc_py_round(double x)
{
    /* nearbyint rounds half to even in the default rounding mode. */
    return nearbyint(x);
}
