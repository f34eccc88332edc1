#include "shard/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/pyjson.h"
#include "shard/clips.h"
#include "shard/pack.h"
#include "shard/plan.h"
#include "shard/progress.h"
#include "shard/report.h"
#include "shard/t5src.h"
#include "shard/wdinfo.h"
#include "storage/fs.h"
#include "storage/s3.h"
#include "util/common.h"
#include "util/log.h"

#define STATE_FILE ".vcurate-shard-state.json"
#define STATE_FORMAT "vcurate-shard-1"

void vc_shard_opts_init(vc_shard_opts *o)
{
    *o = (vc_shard_opts){ .annotation_version = "v0", .captioning_algorithm = "qwen",
                          .max_tars_per_part = 100, .target_tar_size_mb = 500,
                          .min_clips_per_tar = 1, .t5_mode = VC_SHARD_T5_AUTO,
                          .device = { VC_DEV_AUTO, 0 } };
}

/* Windows carry captions, but none under the requested algorithm: Cosmos
 * would pack every clip with an empty T5 list and valid: false. Refuse, and
 * name the algorithms that are there. */
static int check_captions(const vc_shard_cliplist *clips, const char *algo)
{
    int64_t windows = 0, captioned = 0;
    vc_strlist others = { 0 };
    for (size_t i = 0; i < clips->len; i++) {
        const vc_shard_clip *c = &clips->items[i];
        if (c->left_out)
            continue;
        windows += c->windows;
        captioned += c->windows_captioned;
        for (size_t k = 0; k < c->other_captions.len; k++) {
            bool seen = false;
            for (size_t j = 0; j < others.len && !seen; j++)
                seen = strcmp(others.items[j], c->other_captions.items[k]) == 0;
            if (!seen)
                vc_strlist_push(&others, c->other_captions.items[k]);
        }
    }
    int rc = 0;
    if (captioned == 0 && others.len > 0) {
        vc_strlist_sort(&others);
        vc_buf names = { 0 };
        for (size_t j = 0; j < others.len; j++) {
            if (j)
                vc_buf_append(&names, ", ", 2);
            vc_buf_append(&names, others.items[j], strlen(others.items[j]));
        }
        vc_buf_append(&names, "", 1);
        vc_error("--captioning-algorithm %s: no window has a \"%s_caption\" field, but the "
                 "windows carry %s. Pass the algorithm split used (e.g. --captioning-algorithm "
                 "%.*s); otherwise every clip would get empty T5 embeddings and valid: false.",
                 algo, algo, (char *)names.data,
                 (int)(strlen(others.items[0]) - strlen("_caption")), others.items[0]);
        vc_buf_free(&names);
        rc = -1;
    } else if (windows > captioned) {
        vc_warn("%" PRId64 " of %" PRId64 " windows have no \"%s_caption\": their clips are "
                "packed with valid: false in their metas, as Cosmos Curator does",
                windows - captioned, windows, algo);
    }
    vc_strlist_free(&others);
    return rc;
}

static uint64_t fnv_str(uint64_t h, const char *s) { return vc_shard_fnv1a(h, s, strlen(s) + 1); }

static uint64_t fnv_i64(uint64_t h, int64_t v) { return vc_shard_fnv1a(h, &v, sizeof(v)); }

/* Everything the bytes of the output depend on. */
static uint64_t plan_fingerprint(const vc_shard_opts *o, const vc_shard_cliplist *clips,
                                 const vc_shard_plan *plan)
{
    uint64_t h = fnv_str(VC_SHARD_FNV_INIT, STATE_FORMAT);
    h = fnv_str(h, o->annotation_version);
    h = fnv_str(h, o->captioning_algorithm);
    h = fnv_i64(h, o->max_tars_per_part);
    for (size_t t = 0; t < plan->ntars; t++) {
        const vc_shard_tar_plan *tp = &plan->tars[t];
        h = fnv_str(h, plan->bins[tp->bin].rel);
        h = fnv_str(h, tp->rel);
        for (size_t k = 0; k < tp->nclips; k++) {
            const vc_shard_clip *c = &clips->items[tp->clips[k]];
            h = fnv_str(h, c->uuid);
            h = fnv_str(h, c->mp4_path);
            h = fnv_i64(h, c->file_bytes);
            h = fnv_i64(h, (int64_t)c->metas_hash);
            if (c->t5_src != VC_SHARD_T5_EMPTY) /* [] members: as before T5 existed */
                h = fnv_i64(h, c->t5_bytes);
        }
    }
    return h;
}

static char *read_state_fingerprint(const char *path)
{
    json_error_t je;
    json_t *s = vc_json_load_path(path, 0, &je);
    const char *fp = json_string_value(json_object_get(s, "fingerprint"));
    char *out = fp ? vc_xstrdup(fp) : NULL;
    json_decref(s);
    return out;
}

/* Cosmos requires an empty {out}/{version}; we also accept our own earlier
 * run of the same plan (resume). */
static int prepare_output(const char *out_root, const char *fingerprint)
{
    char *state_path = vc_asprintf("%s/" STATE_FILE, out_root);
    int rc = 0;
    if (vc_fs_is_dir(out_root)) {
        vc_fs_clean_temp(out_root); /* leftovers of a killed run */
        vc_strlist files = { 0 };
        vc_fs_list_recursive(out_root, &files);
        char *old = files.len ? read_state_fingerprint(state_path) : NULL;
        if (files.len && !old) {
            vc_error("output %s is not empty and holds no vcurate shard state: shard writes "
                     "into an empty directory (as Cosmos Curator requires) or resumes its own "
                     "run; remove it or choose another --output-dataset-path", out_root);
            rc = -1;
        } else if (old && strcmp(old, fingerprint) != 0) {
            vc_error("output %s holds shards of a different input or options (its %s does not "
                     "match this run): remove it or choose another --output-dataset-path",
                     out_root, STATE_FILE);
            rc = -1;
        } else if (old) {
            vc_info("resuming in %s: tars already complete are kept", out_root);
        }
        free(old);
        vc_strlist_free(&files);
    }
    if (rc == 0) {
        char *text = vc_asprintf("{\n    \"format\": \"%s\",\n    \"fingerprint\": \"%s\"\n}\n",
                                 STATE_FORMAT, fingerprint);
        int w = vc_fs_write_atomic(state_path, text, strlen(text));
        if (w < 0) {
            vc_error("cannot write %s: %s", state_path, strerror(-w));
            rc = -1;
        }
        free(text);
    }
    free(state_path);
    return rc;
}

static int64_t planned_bytes(const vc_shard_plan *plan)
{
    int64_t total = 0;
    for (size_t b = 0; b < plan->nbins; b++)
        total += plan->bins[b].file_bytes;
    return total;
}

static int pack_and_index(const vc_shard_opts *o, const char *out_root,
                          vc_shard_cliplist *clips, vc_shard_plan *plan, vc_shard_t5 *t5)
{
    vc_shard_progress prog;
    vc_shard_progress_start(&prog, (int64_t)plan->ntars, planned_bytes(plan), o->progress_tty);
    vc_shard_pack_stats stats = { 0 };
    double t0 = vc_now();
    int threads = o->threads;
    if (threads <= 0 && vc_s3_is_url(out_root))
        threads = 8; /* uploads wait on the network more than on the CPU */
    int rc = vc_shard_pack(clips, plan, out_root, o->captioning_algorithm, t5, threads,
                           vc_shard_progress_update, &prog, &stats);
    vc_shard_progress_end(&prog);
    double el = vc_now() - t0;
    vc_info("packed %zu tars x 3 (%lld files written, %lld kept from an earlier run), "
            "%.1f MiB of clips in %.1f s (%.0f MiB/s)", plan->ntars,
            (long long)stats.files_written, (long long)stats.files_kept,
            (double)stats.video_bytes / 1048576.0, el,
            el > 0 ? (double)stats.video_bytes / 1048576.0 / el : 0.0);
    if (stats.t5_clips_computed || stats.t5_captions_computed)
        vc_info("T5: embedded %lld captions of %lld clips in this run", (long long)stats.t5_captions_computed,
                (long long)stats.t5_clips_computed);
    if (rc < 0) {
        vc_error("%lld tar(s) failed (see above); fix the cause and rerun the same command to "
                 "complete the dataset", (long long)stats.tars_failed);
        return -1;
    }
    if (vc_shard_write_wdinfo(plan, out_root, o->max_tars_per_part) < 0)
        return -1;
    return vc_shard_write_summary(out_root, o, clips, plan, t5, &stats);
}


static int run_checked(const vc_shard_opts *o, const char *input, const char *out_root)
{
    vc_shard_cliplist clips = { 0 };
    char *err = NULL;
    if (vc_shard_list_clips(input, o->annotation_version, &clips, &err) < 0) {
        vc_error("%s", err);
        free(err);
        return 1;
    }
    vc_info("%zu clips listed in %s/summary.json; reading their metadata", clips.len, input);
    /* reading metas is I/O bound on S3: many requests in flight */
    int load_threads = vc_s3_is_url(input) && o->threads < 16 ? 16 : o->threads;
    vc_shard_t5 t5;
    vc_shard_t5_init(&t5, o, input);
    vc_shard_load_clips(&clips, input, o->captioning_algorithm, &t5, load_threads);
    if (check_captions(&clips, o->captioning_algorithm) < 0) {
        vc_shard_t5_free(&t5);
        vc_shard_cliplist_free(&clips);
        return 1;
    }
    vc_shard_plan_opts po = { .target_tar_bytes = o->target_tar_size_mb * 1024 * 1024,
                              .max_tars_per_part = o->max_tars_per_part,
                              .min_clips_per_tar = o->min_clips_per_tar,
                              .drop_small_shards = o->drop_small_shards,
                              .short_clip_bin = o->short_clip_bin };
    vc_shard_plan plan;
    vc_shard_plan_build(&clips, &po, &plan);
    vc_shard_log_left_out(&clips);
    vc_info("%zu tars planned in %zu bins", plan.ntars, plan.nbins);
    int rc = 1;
    if (vc_shard_t5_prepare(&t5, o, &clips, &plan, load_threads) == 0) {
        char fp[17];
        snprintf(fp, sizeof(fp), "%016" PRIx64, plan_fingerprint(o, &clips, &plan));
        if (prepare_output(out_root, fp) == 0 &&
            pack_and_index(o, out_root, &clips, &plan, &t5) == 0)
            rc = 0;
    }
    if (rc == 0)
        vc_info("dataset ready: %s/wdinfo_list.csv; clips left out are listed in "
                "%s/shard_summary.json", out_root, out_root);
    vc_shard_plan_free(&plan);
    vc_shard_t5_free(&t5);
    vc_shard_cliplist_free(&clips);
    return rc;
}

int vc_shard_run(const vc_shard_opts *o)
{
    if (!strncmp(o->input_clip_path, "az://", 5) || !strncmp(o->output_dataset_path, "az://", 5)) {
        vc_error("Azure (az://) paths are not supported: use local or s3:// paths");
        return 1;
    }
    const char *paths[] = { o->input_clip_path, o->output_dataset_path };
    for (int i = 0; i < 2; i++) {
        vc_s3_loc loc;
        char *why = NULL;
        if (vc_s3_is_url(paths[i]) && vc_s3_parse_url(paths[i], &loc, &why) < 0) {
            vc_error("%s", why);
            free(why);
            return 1;
        }
        if (vc_s3_is_url(paths[i]))
            vc_s3_loc_free(&loc);
    }
    if (!vc_fs_is_dir(o->input_clip_path)) {
        if (vc_s3_is_url(o->input_clip_path) && vc_s3_last_error()[0])
            vc_error("--input-clip-path %s: %s", o->input_clip_path, vc_s3_last_error());
        else
            vc_error("--input-clip-path %s: not a directory", o->input_clip_path);
        return 1;
    }
    char *input = vc_fs_pypath(o->input_clip_path);
    char *out_root = vc_asprintf("%s/%s", o->output_dataset_path, o->annotation_version);
    int mk = vc_fs_mkdirs(out_root);
    int rc;
    if (mk < 0) {
        vc_error("cannot create %s: %s", out_root, strerror(-mk));
        rc = 1;
    } else {
        rc = run_checked(o, input, out_root);
    }
    free(out_root);
    free(input);
    return rc;
}
