/* Scratch directories for the C tests: one place that makes them (under
 * $TMPDIR, else /tmp) and removes them. */
#ifndef VC_TEST_TMPDIR_H
#define VC_TEST_TMPDIR_H

/* A new empty directory $TMPDIR/vc-NAME-XXXXXX (mkdtemp); free() the path.
 * Exits the test with a message if it cannot be made. */
char *vc_test_tmpdir(const char *name);

/* path and everything under it, symlinks not followed. 0 when all of it
 * is gone, -1 otherwise. */
int vc_test_rm_rf(const char *path);

#endif
