/* ZIP central directory and local headers (APPNOTE.TXT 4.3), stored members only. */
#include "nn/io/zip.h"

#include <stdlib.h>
#include <string.h>

#include "nn/io/io_internal.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOCATOR 0x07064b50u

#define LOCAL_SIZE 30
#define CENTRAL_SIZE 46
#define EOCD_SIZE 22
#define EOCD64_SIZE 56
#define LOCATOR_SIZE 20
#define MAX_COMMENT 0xffff

#define ZIP64_EXTRA_ID 0x0001

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* True when [off, off + len) lies inside a file of `size` bytes. */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
    return off <= size && len <= size - off;
}

/* Where the archive's central directory is and how many entries it holds. */
typedef struct cd_location {
    uint64_t offset, size, entries;
} cd_location;

/* The end-of-central-directory record is the last 22 bytes plus a comment of
 * up to 64 KiB, so scan backwards for its signature. */
static int find_eocd(const uint8_t *file, size_t size, size_t *pos)
{
    if (size < EOCD_SIZE)
        return -1;
    size_t lowest = size - EOCD_SIZE > MAX_COMMENT ? size - EOCD_SIZE - MAX_COMMENT : 0;
    for (size_t p = size - EOCD_SIZE + 1; p-- > lowest;) {
        if (le32(file + p) == SIG_EOCD && p + EOCD_SIZE + le16(file + p + 20) <= size) {
            *pos = p;
            return 0;
        }
    }
    return -1;
}

/* A ZIP64 locator just before the EOCD points to the 64-bit record, whose
 * fields replace the saturated 16/32-bit ones. */
static int read_eocd64(const uint8_t *file, size_t size, size_t eocd, cd_location *cd,
                       char *err, size_t errlen)
{
    const uint8_t *loc = file + eocd - LOCATOR_SIZE;
    if (le32(loc + 16) > 1)
        return io_fail(err, errlen, "multi-disk ZIP archives are not supported");
    uint64_t off = le64(loc + 8);
    if (!in_file(off, EOCD64_SIZE, size) || le32(file + off) != SIG_EOCD64)
        return io_fail(err, errlen, "ZIP64 end of central directory at %llu is missing or corrupt",
                       (unsigned long long)off);
    const uint8_t *r = file + off;
    if (le32(r + 16) != 0 || le32(r + 20) != 0)
        return io_fail(err, errlen, "multi-disk ZIP archives are not supported");
    cd->entries = le64(r + 32);
    cd->size = le64(r + 40);
    cd->offset = le64(r + 48);
    return 0;
}

static int locate_central_directory(const uint8_t *file, size_t size, cd_location *cd,
                                    char *err, size_t errlen)
{
    size_t eocd = 0;
    if (find_eocd(file, size, &eocd) != 0)
        return io_fail(err, errlen, "no ZIP end of central directory (truncated file?)");
    const uint8_t *e = file + eocd;
    if (eocd >= LOCATOR_SIZE && le32(e - LOCATOR_SIZE) == SIG_EOCD64_LOCATOR) {
        if (read_eocd64(file, size, eocd, cd, err, errlen) != 0)
            return -1;
    } else {
        if (le16(e + 4) != 0 || le16(e + 6) != 0)
            return io_fail(err, errlen, "multi-disk ZIP archives are not supported");
        cd->entries = le16(e + 10);
        cd->size = le32(e + 12);
        cd->offset = le32(e + 16);
    }
    if (!in_file(cd->offset, cd->size, size))
        return io_fail(err, errlen, "ZIP central directory (%llu bytes at %llu) lies past the end of the file",
                       (unsigned long long)cd->size, (unsigned long long)cd->offset);
    if (cd->entries > cd->size / CENTRAL_SIZE)
        return io_fail(err, errlen, "ZIP central directory claims %llu entries in %llu bytes",
                       (unsigned long long)cd->entries, (unsigned long long)cd->size);
    return 0;
}

/* Saturated 32-bit fields are followed, in this order, by 64-bit values in the
 * ZIP64 extra field. */
static int apply_zip64_extra(const uint8_t *extra, size_t len, uint32_t usize, uint32_t csize,
                             uint32_t offset, io_zip_member *m, uint64_t *csize64,
                             char *err, size_t errlen)
{
    for (size_t p = 0; p + 4 <= len;) {
        uint16_t id = le16(extra + p), n = le16(extra + p + 2);
        if (n > len - p - 4)
            break;
        if (id == ZIP64_EXTRA_ID) {
            const uint8_t *f = extra + p + 4, *end = f + n;
            if (usize == UINT32_MAX) {
                if (end - f < 8)
                    goto short_field;
                m->size = le64(f);
                f += 8;
            }
            if (csize == UINT32_MAX) {
                if (end - f < 8)
                    goto short_field;
                *csize64 = le64(f);
                f += 8;
            }
            if (offset == UINT32_MAX) {
                if (end - f < 8)
                    goto short_field;
                m->header_offset = le64(f);
            }
            return 0;
        }
        p += 4 + (size_t)n;
    }
    if (usize == UINT32_MAX || csize == UINT32_MAX || offset == UINT32_MAX)
        return io_fail(err, errlen, "ZIP member %s lacks the ZIP64 field its sizes require", m->name);
    return 0;
short_field:
    return io_fail(err, errlen, "ZIP member %s has a short ZIP64 field", m->name);
}

static int read_central_entry(const uint8_t *file, const uint8_t *end, const uint8_t **cursor,
                              io_zip_member *m, char *err, size_t errlen)
{
    const uint8_t *c = *cursor;
    if (end - c < CENTRAL_SIZE || le32(c) != SIG_CENTRAL)
        return io_fail(err, errlen, "corrupt ZIP central directory entry at %llu",
                       (unsigned long long)(c - file));
    size_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
    if ((size_t)(end - c) - CENTRAL_SIZE < name_len + extra_len + comment_len)
        return io_fail(err, errlen, "ZIP central directory entry at %llu runs past the directory",
                       (unsigned long long)(c - file));
    m->name = vc_xmalloc(name_len + 1);
    memcpy(m->name, c + CENTRAL_SIZE, name_len);
    m->name[name_len] = '\0';
    m->flags = le16(c + 8);
    m->method = le16(c + 10);
    uint32_t csize = le32(c + 20), usize = le32(c + 24), offset = le32(c + 42);
    m->size = usize;
    m->header_offset = offset;
    uint64_t csize64 = csize;
    if (apply_zip64_extra(c + CENTRAL_SIZE + name_len, extra_len, usize, csize, offset, m, &csize64,
                          err, errlen) != 0)
        return -1;
    if (m->method == 0 && csize64 != m->size)
        return io_fail(err, errlen, "ZIP member %s is stored but its sizes differ", m->name);
    *cursor = c + CENTRAL_SIZE + name_len + extra_len + comment_len;
    return 0;
}

static int compare_members(const void *a, const void *b)
{
    return strcmp(((const io_zip_member *)a)->name, ((const io_zip_member *)b)->name);
}

int io_zip_read(const uint8_t *file, size_t file_size, io_zip *z, char *err, size_t errlen)
{
    memset(z, 0, sizeof(*z));
    cd_location cd = {0};
    if (locate_central_directory(file, file_size, &cd, err, errlen) != 0)
        return -1;
    z->members = vc_xcalloc(cd.entries ? cd.entries : 1, sizeof(*z->members));
    const uint8_t *cursor = file + cd.offset, *end = cursor + cd.size;
    for (uint64_t i = 0; i < cd.entries; i++) {
        if (read_central_entry(file, end, &cursor, &z->members[i], err, errlen) != 0) {
            z->count = i + 1;
            io_zip_free(z);
            return -1;
        }
    }
    z->count = cd.entries;
    qsort(z->members, z->count, sizeof(*z->members), compare_members);
    return 0;
}

void io_zip_free(io_zip *z)
{
    for (size_t i = 0; i < z->count; i++)
        free(z->members[i].name);
    free(z->members);
    memset(z, 0, sizeof(*z));
}

const io_zip_member *io_zip_find(const io_zip *z, const char *name)
{
    io_zip_member key = {.name = (char *)name};
    return z->count ? bsearch(&key, z->members, z->count, sizeof(*z->members), compare_members)
                    : NULL;
}

int io_zip_member_data(const uint8_t *file, size_t file_size, const io_zip_member *m,
                       const uint8_t **data, char *err, size_t errlen)
{
    if (m->flags & 1)
        return io_fail(err, errlen, "ZIP member %s is encrypted", m->name);
    if (m->method != 0)
        return io_fail(err, errlen,
                       "ZIP member %s is compressed (method %d); torch.save stores members uncompressed",
                       m->name, m->method);
    if (!in_file(m->header_offset, LOCAL_SIZE, file_size) ||
        le32(file + m->header_offset) != SIG_LOCAL)
        return io_fail(err, errlen, "ZIP member %s: local header at %llu is missing or corrupt",
                       m->name, (unsigned long long)m->header_offset);
    const uint8_t *h = file + m->header_offset;
    uint64_t start = m->header_offset + LOCAL_SIZE + le16(h + 26) + le16(h + 28);
    if (!in_file(start, m->size, file_size))
        return io_fail(err, errlen, "ZIP member %s (%llu bytes at %llu) lies past the end of the file",
                       m->name, (unsigned long long)m->size, (unsigned long long)start);
    *data = file + start;
    return 0;
}
