/* A ZIP central-directory reader for archives of stored (uncompressed)
 * members, as torch.save writes them: it finds where each member's bytes lie
 * in the mapped file so tensors can be used in place. ZIP64 (archives and
 * members past 4 GB) is handled; compression, encryption and multi-disk
 * archives are refused. */
#ifndef VC_NN_IO_ZIP_H
#define VC_NN_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct io_zip_member {
    char *name;
    uint64_t header_offset;   /* local header */
    uint64_t size;
    int method;               /* 0: stored */
    int flags;
} io_zip_member;

typedef struct io_zip {
    io_zip_member *members;   /* sorted by name */
    size_t count;
} io_zip;

int io_zip_read(const uint8_t *file, size_t file_size, io_zip *z, char *err, size_t errlen);
void io_zip_free(io_zip *z);

const io_zip_member *io_zip_find(const io_zip *z, const char *name);

/* The bytes of a stored member, located through its local header (whose
 * extra field, used by torch for 64-byte alignment, may differ from the
 * central directory's). Reading it touches that header's page only. */
int io_zip_member_data(const uint8_t *file, size_t file_size, const io_zip_member *m,
                       const uint8_t **data, char *err, size_t errlen);

#endif
