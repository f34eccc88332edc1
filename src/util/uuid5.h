/* RFC 4122 name-based UUIDs (version 5, SHA-1), as Python's uuid.uuid5. */
#ifndef VC_UTIL_UUID5_H
#define VC_UTIL_UUID5_H

#define VC_UUID_STR_LEN 37 /* 36 characters and the terminator */

/* uuid5(NAMESPACE_URL, name) in canonical lower-case form. */
void vc_uuid5_url(const char *name, char out[VC_UUID_STR_LEN]);

/* uuid5(ns, name) for a namespace given as 16 bytes. */
void vc_uuid5(const unsigned char ns[16], const char *name, char out[VC_UUID_STR_LEN]);

#endif
