/* Python's number formatting and rounding, reproduced exactly: clip UUIDs
 * hash strings built with Python's float repr, and frame sampling uses
 * round-half-even. */
#ifndef VC_UTIL_PYFMT_H
#define VC_UTIL_PYFMT_H

#define VC_PY_FLOAT_REPR_MAX 32

/* repr(x) as Python 3 prints it: shortest round-trip digits, "10.0",
 * "1e+16", "1.5e-05", "inf", "nan". Returns buf. */
char *vc_py_float_repr(double x, char buf[VC_PY_FLOAT_REPR_MAX]);

/* Python's round(x) for floats: half to even. */
double vc_py_round(double x);

#endif
