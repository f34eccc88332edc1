#include "split/split.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "split/progress.h"
#include "dataset/predict2.h"
#include "dataset/records.h"
#include "dataset/resume.h"
#include "dataset/summary.h"
#include "pipeline/cancel.h"
#include "pipeline/engine.h"
#include "split/run.h"
#include "split/stage_caption.h"
#include "split/stage_cut.h"
#include "split/stage_probe.h"
#include "split/stage_t5.h"
#include "split/stage_write.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"

static void cancel_pipeline(void *opaque)
{
    vc_pipeline_cancel(opaque);
}

/* The videos this run works on, as relpaths and full paths. */
static int select_videos(const vc_split_config *cfg, vc_resume_result *sel)
{
    memset(sel, 0, sizeof(*sel));
    if (!cfg->input_video_list_json_path && !vc_fs_is_dir(cfg->input_video_path)) {
        /* One file: it is its own listing. */
        const char *slash = strrchr(cfg->input_video_path, '/');
        const char *rel = slash ? slash + 1 : cfg->input_video_path;
        vc_strlist_push(&sel->all_videos, rel);
        vc_strlist done = { 0 };
        vc_resume_find_processed(cfg->output_clip_path, &done);
        vc_resume_filter(&sel->all_videos, &done, cfg->limit, &sel->to_process);
        sel->num_processed = done.len;
        vc_strlist_free(&done);
        return 0;
    }
    vc_resume_input in = {
        .input_path = cfg->input_video_path,
        .output_path = cfg->output_clip_path,
        .list_json_path = cfg->input_video_list_json_path,
        .limit = cfg->limit,
    };
    char *err = NULL;
    if (vc_resume_select(&in, sel, &err) < 0) {
        vc_error("%s", err ? err : "cannot list the input videos");
        free(err);
        return -1;
    }
    return 0;
}

/* The path as Cosmos Curator writes and hashes it: str(pathlib.Path(...)). */
static char *full_path(const vc_split_config *cfg, const char *rel)
{
    if (!cfg->input_video_list_json_path && !vc_fs_is_dir(cfg->input_video_path))
        return vc_fs_pypath(cfg->input_video_path);
    char *root = vc_fs_pypath(cfg->input_video_path);
    char *p = vc_input_video_path(root, rel);
    free(root);
    return p;
}

static void build_pipeline(vc_pipeline *p, vc_split_run *run)
{
    const vc_split_config *cfg = run->cfg;
    int workers = VC_MAX(1, cfg->video_workers);
    /* Probing is cheap; a small queue in front of cut keeps decoders fed
     * without reading far ahead. The write queue absorbs bursts of clips. */
    vc_pipeline_add(p, &vc_stage_probe, run, 1, 2);
    vc_pipeline_add(p, &vc_stage_cut, run, workers, 1);
    if (run->cap)
        /* Workers only queue requests; a spare one keeps clips of the next
         * video flowing while another waits for a video's last captions. */
        vc_pipeline_add(p, &vc_stage_caption, run, workers + 2, (size_t)(4 * workers * VC_MAX(1, cfg->encoders_per_video)));
    if (run->t5)
        /* One worker: it batches captions across clips; the queue in front
         * lets captioning run ahead while a batch is encoded. */
        vc_pipeline_add(p, &vc_stage_t5, run, 1, (size_t)(4 * workers * VC_MAX(1, cfg->encoders_per_video)));
    /* On S3 each small object is a request of a few ms: more writers keep
     * many metas and markers in flight at once. */
    int writers = strncmp(cfg->output_clip_path, "s3://", 5) == 0 ? 8 : 2;
    vc_pipeline_add(p, &vc_stage_write, run, writers, (size_t)(4 * workers * VC_MAX(1, cfg->encoders_per_video)));
}

static int64_t total_input_bytes(const vc_split_config *cfg, const vc_strlist *rels)
{
    int64_t sum = 0;
    for (size_t i = 0; i < rels->len; i++) {
        char *path = full_path(cfg, rels->items[i]);
        int64_t size = 0;
        if (vc_fs_size(path, &size) == 0)
            sum += size;
        free(path);
    }
    return sum;
}

/* Spread the CPU budget: a few videos at once on big machines, and within a
 * video the decoder and each clip encoder may use all of the video's share
 * (encoders mostly run one or two at a time, so sharing beats idling). */
static void resolve_threads(vc_split_config *c)
{
    long cores = c->threads > 0 ? c->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (c->video_workers <= 0)
        c->video_workers = (int)VC_MAX(1, cores / 4);
    int share = (int)VC_MAX(1, cores / c->video_workers);
    if (c->decode_threads <= 0)
        c->decode_threads = share;
    if (c->encoder_threads <= 0)
        c->encoder_threads = share;
}

/* Large blocks (decoded frames, per-clip encoder state, encoded clips of a
 * few MB) come and go all run long. glibc raises its mmap threshold to the
 * size of each large block freed, so from the first freed frame on, such
 * blocks come from the heap, where freed ones stay resident between live
 * ones. A fixed threshold keeps them in their own mappings, returned to the
 * system when freed: peak RSS of a default split of 1080p footage 420-431 MB
 * -> 366-388 MB at the same speed (bench/RESULTS.md). */
static void bound_heap(void)
{
#ifdef M_MMAP_THRESHOLD
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    /* Every thread that mallocs (decoder, encoder, writer threads) gets its
     * own arena by default, up to 8 per core, and each keeps its freed small
     * blocks: over a long run their fragmentation crept up by ~30 MB. Two
     * arenas keep RSS flat with video length (bench/RESULTS.md). */
#ifdef M_ARENA_MAX
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
#endif
    /* With the threshold fixed, glibc hands the top of a heap back as soon
     * as 128 KB of it are free, and the next blocks fault those pages in
     * again: the caption frames' base64 strings and libcurl's buffers did,
     * ~5% of caption frame preparation (bench/caption). Up to 8 MB of free
     * top per arena stays mapped. */
#ifdef M_TRIM_THRESHOLD
    if (!getenv("MALLOC_TRIM_THRESHOLD_"))
        mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
}

int vc_split_main(const vc_split_config *user_cfg)
{
    bound_heap();
    vc_split_config resolved = *user_cfg;
    resolve_threads(&resolved);
    const vc_split_config *cfg = &resolved;
    int rc = vc_fs_mkdirs(cfg->output_clip_path);
    if (rc < 0) {
        vc_error("%s: cannot create the output folder: %s", cfg->output_clip_path, strerror(-rc));
        return VC_EXIT_FATAL;
    }
    vc_fs_clean_temp(cfg->output_clip_path);
    char *summary = vc_fs_join(cfg->output_clip_path, "summary.json");
    if (vc_fs_exists(summary))
        vc_warn("%s exists: resuming (finished videos are skipped)", summary);
    free(summary);

    vc_resume_result sel;
    if (select_videos(cfg, &sel) < 0)
        return VC_EXIT_FATAL;
    vc_info("%zu videos listed, %zu already processed, %zu to process", sel.all_videos.len,
            sel.num_processed, sel.to_process.len);

    vc_split_run run = { .cfg = cfg, .t_start = vc_now() };
    atomic_store(&run.stats.videos_total, (long long)sel.to_process.len);
    if (cfg->caption.enabled && !cfg->dry_run)
        run.cap = vc_caption_stage_new(&run);
    if (cfg->predict2 && run.cap && cfg->t5_model)
        run.t5 = vc_t5_stage_new(&run);
    vc_pipeline *p = vc_pipeline_new();
    build_pipeline(p, &run);
    vc_cancel_set_callback(cancel_pipeline, p);
    vc_progress *prog = vc_progress_start(&run, cfg->progress);
    vc_pipeline_start(p);
    for (size_t i = 0; i < sel.to_process.len && !vc_cancelled(); i++) {
        char *path = full_path(cfg, sel.to_process.items[i]);
        vc_split_video *sv = vc_split_video_new(path, sel.to_process.items[i]);
        free(path);
        if (!vc_pipeline_feed(p, vc_split_item_new(VC_ITEM_VIDEO, sv)))
            break;
    }
    int prc = vc_pipeline_finish(p);
    vc_cancel_set_callback(NULL, NULL);
    vc_progress_stop(prog);
    vc_caption_stage_free(run.cap);
    vc_pipeline_free(p);
    vc_t5_stage_free(run.t5);
    if (cfg->predict2)
        vc_info("predict2: %lld windows written under %s/" VC_P2_DIR, (long long)atomic_load(&run.p2_windows),
                cfg->output_clip_path);

    double minutes = (vc_now() - run.t_start) / 60.0;
    vc_summary_input si = {
        .output_path = cfg->output_clip_path,
        .input_path = cfg->input_video_path,
        .input_videos = &sel.all_videos,
        .num_input_videos_selected = (int64_t)sel.to_process.len,
        .embedding_algorithm = "internvideo2",
        .limit = cfg->limit,
        .pipeline_run_time = minutes,
        .total_video_bytes = total_input_bytes(cfg, &sel.to_process),
        .write_all_caption_json = true,
    };
    if (vc_write_summary(&si) < 0)
        prc = prc ? prc : -1;
    vc_progress_report(&run, minutes * 60.0);
    vc_resume_result_free(&sel);

    if (vc_cancelled())
        return VC_EXIT_INTERRUPTED;
    if (prc < 0)
        return VC_EXIT_FATAL;
    return atomic_load(&run.stats.videos_failed) > 0 ? VC_EXIT_SOME_FAILED : VC_EXIT_OK;
}
