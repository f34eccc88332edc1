/* Transcribed from FlashFilter._filter_merge. PySceneDetect converts an int
 * length to seconds with the frame rate and compares timecodes; on frame
 * numbers that is the same as comparing frame differences with `length`. */
#include "detect/flash_filter.h"

void vc_flash_filter_init(vc_flash_filter *f, int length)
{
    *f = (vc_flash_filter){ .length = length, .last_above = -1, .merge_start = -1 };
}

int64_t vc_flash_filter_push(vc_flash_filter *f, int64_t t, bool above)
{
    if (f->length <= 0)
        return above ? t : -1;
    if (f->last_above < 0)
        f->last_above = t;   /* the first frame seeds last_above, as in Python */
    bool min_length_met = t - f->last_above >= f->length;
    if (above)
        f->last_above = t;
    if (f->merge_triggered) {
        int64_t merged = f->last_above - f->merge_start;
        if (min_length_met && !above && merged >= f->length) {
            f->merge_triggered = false;
            return f->last_above;
        }
        return -1;
    }
    if (!above)
        return -1;
    if (min_length_met) {
        f->merge_enabled = true;
        return t;
    }
    if (f->merge_enabled) {
        f->merge_triggered = true;
        f->merge_start = t;
    }
    return -1;
}
