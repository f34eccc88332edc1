#include "support/tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

char *vc_test_tmpdir(const char *name)
{
    const char *base = getenv("TMPDIR");
    char *path = vc_asprintf("%s/vc-%s-XXXXXX", base && *base ? base : "/tmp", name);
    if (!mkdtemp(path)) {
        perror(path);
        exit(1);
    }
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int vc_test_rm_rf(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
