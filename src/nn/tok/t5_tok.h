/* The T5 tokenizer as Cosmos Curator runs it on a caption:
 *   text.strip()                      (Python's str.strip(): Unicode whitespace)
 *   sentencepiece ids of spiece.model (what T5Tokenizer / T5TokenizerFast give
 *                                      for text without special-token strings)
 *   truncated to max_len - 1 pieces, then </s> appended
 * so a caption yields 1..max_len ids (512 for T5: padding="max_length",
 * max_length=512, truncation=True; the attention-mask sum L counts </s>). */
#ifndef VC_NN_TOK_T5_TOK_H
#define VC_NN_TOK_T5_TOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct vc_t5_tok vc_t5_tok;

#define VC_T5_MAX_TOKENS 512

/* Loads spiece.model. NULL with "PATH: cause" in err on failure. */
vc_t5_tok *vc_t5_tok_load(const char *spiece_path, char *err, size_t errlen);
void vc_t5_tok_free(vc_t5_tok *t);

/* Ids of caption (UTF-8, NUL-terminated) into ids (room for max_len,
 * max_len >= 1); returns the count (>= 1, the last being </s>), or -1 with
 * a message. */
int vc_t5_tok_encode(const vc_t5_tok *t, const char *caption, int max_len, int32_t *ids, char *err,
                     size_t errlen);

int vc_t5_tok_eos_id(const vc_t5_tok *t);
int vc_t5_tok_vocab_size(const vc_t5_tok *t);

/* Python's str.strip() on UTF-8: the span of s without leading and trailing
 * characters for which str.isspace() is true. *len in: bytes of s; out:
 * bytes kept. Returns the first kept byte. Invalid UTF-8 is never stripped. */
const char *vc_py_strip(const char *s, size_t *len);

#endif
