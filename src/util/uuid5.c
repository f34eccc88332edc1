#include "util/uuid5.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* 6ba7b811-9dad-11d1-80b4-00c04fd430c8 */
static const unsigned char namespace_url[16] = {
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
    0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
};

void vc_uuid5(const unsigned char ns[16], const char *name, char out[VC_UUID_STR_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, ns, 16);
    EVP_DigestUpdate(ctx, name, strlen(name));
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);

    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        sprintf(o, "%02x", md[i]);
        o += 2;
    }
    *o = 0;
}

void vc_uuid5_url(const char *name, char out[VC_UUID_STR_LEN])
{
    vc_uuid5(namespace_url, name, out);
}
