/* Scanning a model's folder: which of its files are there, and in what state. */
#ifndef VC_MODELS_LOCAL_H
#define VC_MODELS_LOCAL_H

#include "models/internal.h"

typedef enum {
    VC_LF_MISSING,       /* neither the file nor a partial */
    VC_LF_PARTIAL,       /* only a partial download */
    VC_LF_UNRECORDED,    /* present, no download record */
    VC_LF_SIZE_CHANGED,  /* present, size differs from the record */
    VC_LF_TOUCHED,       /* present, same size, mtime differs from the record */
    VC_LF_OK,            /* present, as recorded */
} vc_local_file_state;

typedef struct vc_local_file {
    char *name;           /* path inside the repo */
    bool checkpoint;      /* a weights file (not config/tokenizer) */
    vc_local_file_state state;
    bool exists, has_record, has_partial;
    int64_t size, mtime_ns, partial_size;
    vc_file_record rec;
} vc_local_file;

typedef struct vc_local_model {
    const vc_model_def *m;
    char *repo_dir;
    char *ckpt;           /* checkpoint in use locally (reduced file, or an alternative), or NULL */
    bool reduced;         /* ckpt is the encoder-only file */
    bool ckpt_missing;    /* no alternative present, not even partly */
    char *index_error;    /* the index could not be read */
    vc_local_file *files; /* fixed files, then the checkpoint (and its shards) */
    size_t nfiles;
} vc_local_model;

void vc_local_scan(vc_local_model *lm, const char *model_dir, const vc_model_def *m);
void vc_local_free(vc_local_model *lm);
bool vc_local_anything(const vc_local_model *lm);
/* "vcurate models download --models ID [--encoder-only] [--recheck]DIR_ARG" (caller frees). */
char *vc_local_fix(const vc_model_def *m, bool recheck, bool encoder_only, const char *dir_arg);
/* Which tensors' shards a (reduced or full) download of m needs. */
bool (*vc_local_shard_filter(const vc_model_def *m, bool reduced))(const char *);

#endif
