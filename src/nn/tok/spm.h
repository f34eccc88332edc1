/* A C API over Debian's libsentencepiece (C++), for T5's spiece.model.
 *
 * Only what the T5 tokenizer needs: load a model, encode UTF-8 text to piece
 * ids exactly as sentencepiece's Python binding does (sp.encode(text)), and
 * read the special ids. Errors are returned as messages, never thrown. */
#ifndef VC_NN_TOK_SPM_H
#define VC_NN_TOK_SPM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vc_spm vc_spm;

/* NULL with "PATH: cause" in err on failure. */
vc_spm *vc_spm_load(const char *path, char *err, size_t errlen);
void vc_spm_free(vc_spm *s);   /* NULL is fine */

/* Ids of text (len bytes of UTF-8, need not be NUL-terminated) into a
 * malloc'd array (*ids, *n; *ids may be NULL when *n is 0). Returns 0, or -1
 * with a message (out of memory, invalid model state). */
int vc_spm_encode(const vc_spm *s, const char *text, size_t len, int32_t **ids, size_t *n, char *err,
                  size_t errlen);

int vc_spm_vocab_size(const vc_spm *s);
int vc_spm_eos_id(const vc_spm *s);   /* -1 when the model has none */
int vc_spm_pad_id(const vc_spm *s);
int vc_spm_unk_id(const vc_spm *s);
/* The id of piece, or the unknown id when the model has no such piece. */
int vc_spm_piece_to_id(const vc_spm *s, const char *piece);

#ifdef __cplusplus
}
#endif

#endif
