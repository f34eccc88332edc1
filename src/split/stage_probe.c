/* The probe stage: read each video's metadata (what Cosmos Curator gets from
 * ffprobe) before anything is decoded, so bad files fail fast and cheaply. */
#include "split/stage_probe.h"

#include "split/run.h"
#include "util/log.h"
#include "video/probe.h"

static int probe_process(vc_stage_ctx *ctx, void *p)
{
    vc_split_item *it = p;
    vc_split_video *sv = it->video;
    vc_split_run *run = vc_stage_shared(ctx);
    char err[512];
    if (vc_probe_video(sv->v.path, &sv->v.info, err, sizeof err) < 0) {
        vc_split_video_fail(sv, "probe", "%s", err);
    } else {
        sv->v.info_ok = true;
        atomic_fetch_add(&run->stats.video_seconds_total, (long long)(sv->v.info.duration * 1000));
        vc_debug("%s: %dx%d %s %.3f fps, %.2f s, %lld frames", sv->v.path, sv->v.info.width,
                 sv->v.info.height, sv->v.info.video_codec, sv->v.info.fps, sv->v.info.duration,
                 (long long)sv->v.info.num_frames);
    }
    vc_stage_emit(ctx, it);
    return 0;
}

const vc_stage vc_stage_probe = { "probe", probe_process, vc_split_item_drop };
