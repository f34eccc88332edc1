#include "dataset/predict2.h"

#include "util/common.h"

char *vc_p2_dir(const char *out)
{
    return vc_asprintf("%s/" VC_P2_DIR, out);
}

char *vc_p2_path(const char *out, vc_p2_kind kind, const char *clip_uuid, int64_t start, int64_t end)
{
    static const char *const sub[] = { "videos", "metas", "t5_xxl" };
    static const char *const ext[] = { "mp4", "txt", "pickle" };
    return vc_asprintf("%s/" VC_P2_DIR "/%s/%s_%lld_%lld.%s", out, sub[kind], clip_uuid, (long long)start,
                       (long long)end, ext[kind]);
}
