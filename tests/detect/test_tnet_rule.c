/* TransNetV2's predictions-to-scenes rules, streaming form (tnet_detector.c)
 * against direct transcriptions of Cosmos Curator's _get_scenes and
 * TransNetV2's predictions_to_scenes, on many random flag sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/tnet_detector.h"

enum { MAXN = 400, MAXS = MAXN + 2 };

/* Cosmos Curator: scenes (start, end) with exclusive ends. */
static int cosmos_scenes(const int *p, int n, int64_t (*sc)[2])
{
    int ns = 0, t = -1, prev = 0, start = 0, i = 0;
    for (i = 0; i < n; i++) {
        t = p[i];
        if (prev == 1 && t == 0)
            start = i;
        if (prev == 0 && t == 1 && i != 0) {
            sc[ns][0] = start;
            sc[ns++][1] = i;
        }
        prev = t;
    }
    i = n - 1;
    /* (a one-frame final scene comes out empty here: no clip can come of it,
     * so it is not listed; the streaming rule emits no scene for it) */
    if (ns > 0 && t == 0 && i > start) {
        sc[ns][0] = start;
        sc[ns++][1] = i;
    }
    if (ns == 0) {
        sc[0][0] = 0;
        sc[0][1] = n;
        ns = 1;
    }
    return ns;
}

/* TransNetV2: inclusive [start, end], returned as exclusive ends. */
static int reference_scenes(const int *p, int n, int64_t (*sc)[2])
{
    int ns = 0, t = -1, prev = 0, start = 0, i;
    for (i = 0; i < n; i++) {
        t = p[i];
        if (prev == 1 && t == 0)
            start = i;
        if (prev == 0 && t == 1 && i != 0) {
            sc[ns][0] = start;
            sc[ns++][1] = i + 1;
        }
        prev = t;
    }
    if (t == 0) {
        sc[ns][0] = start;
        sc[ns++][1] = n;
    }
    if (ns == 0) {
        sc[0][0] = 0;
        sc[0][1] = n;
        ns = 1;
    }
    return ns;
}

/* Scenes between the rule's events, as `vcurate detect` reports them. */
static int rule_scenes(vc_tnet_compat compat, const int *p, int n, int64_t (*sc)[2])
{
    vc_tnet_scene_rule r;
    vc_tnet_scene_rule_init(&r, compat);
    vc_shot_event ev[MAXS];
    int ne = 0;
    for (int i = 0; i < n; i++) {
        if (vc_tnet_scene_rule_push(&r, p[i], &ev[ne]))
            ne++;
        /* settled frames never move back */
        assert_true(vc_tnet_scene_rule_settled(&r) <= i + 1);
    }
    if (vc_tnet_scene_rule_end(&r, &ev[ne]))
        ne++;
    int ns = 0;
    int64_t start = 0;
    for (int k = 0; k < ne; k++) {
        if (ev[k].first > start) {
            sc[ns][0] = start;
            sc[ns++][1] = ev[k].first;
        }
        start = ev[k].kind == VC_SHOT_CUT ? ev[k].first : ev[k].last + 1;
    }
    if (n > start) {
        sc[ns][0] = start;
        sc[ns++][1] = n;
    }
    return ns;
}

/* Flags with runs, as a network's thresholded output looks. */
static int random_flags(int *p, unsigned *seed)
{
    int n = 1 + (int)(rand_r(seed) % MAXN);
    int density = 1 + (int)(rand_r(seed) % 30);
    for (int i = 0; i < n;) {
        int v = (int)(rand_r(seed) % 100) < density;
        int len = v ? 1 + (int)(rand_r(seed) % 6) : 1 + (int)(rand_r(seed) % 80);
        for (int j = 0; j < len && i < n; j++)
            p[i++] = v;
    }
    return n;
}

/* Cosmos keeps the whole video when its only transition starts at frame 0;
 * vcurate leaves that leading run out (documented in docs/design.md). */
static bool only_leading_run(const int *p, int n)
{
    if (!p[0])
        return false;
    int i = 0;
    while (i < n && p[i])
        i++;
    for (; i < n; i++)
        if (p[i])
            return false;
    return i > 0 && p[n - 1] == 0;
}

static void random_sequences(vc_tnet_compat compat)
{
    unsigned seed = 12345;
    static int p[MAXN];
    static int64_t want[MAXS][2], got[MAXS][2];
    int compared = 0;
    for (int it = 0; it < 20000; it++) {
        int n = random_flags(p, &seed);
        if (compat == VC_TNET_COMPAT_COSMOS && only_leading_run(p, n))
            continue;
        int nw = compat == VC_TNET_COMPAT_COSMOS ? cosmos_scenes(p, n, want) : reference_scenes(p, n, want);
        int ng = rule_scenes(compat, p, n, got);
        assert_int_equal(ng, nw);
        assert_memory_equal(got, want, (size_t)nw * sizeof(want[0]));
        compared++;
    }
    assert_true(compared > 15000);
}

static void test_cosmos_rule(void **state)
{
    (void)state;
    random_sequences(VC_TNET_COMPAT_COSMOS);
}

static void test_reference_rule(void **state)
{
    (void)state;
    random_sequences(VC_TNET_COMPAT_REFERENCE);
}

/* The documented difference, spelled out. */
static void test_leading_run_only(void **state)
{
    (void)state;
    int p[10] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    int64_t want[MAXS][2], got[MAXS][2];
    assert_int_equal(cosmos_scenes(p, 10, want), 1);
    assert_int_equal(want[0][0], 0);
    assert_int_equal(want[0][1], 10);
    assert_int_equal(rule_scenes(VC_TNET_COMPAT_COSMOS, p, 10, got), 1);
    assert_int_equal(got[0][0], 2);
    assert_int_equal(got[0][1], 10);
}

static void test_compat_parse(void **state)
{
    (void)state;
    vc_tnet_compat c;
    assert_int_equal(vc_tnet_compat_parse("cosmos", &c), 0);
    assert_int_equal(c, VC_TNET_COMPAT_COSMOS);
    assert_int_equal(vc_tnet_compat_parse("reference", &c), 0);
    assert_int_equal(c, VC_TNET_COMPAT_REFERENCE);
    assert_int_equal(vc_tnet_compat_parse("tf", &c), -1);
    assert_int_equal(vc_tnet_compat_parse(NULL, &c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosmos_rule),
        cmocka_unit_test(test_reference_rule),
        cmocka_unit_test(test_leading_run_only),
        cmocka_unit_test(test_compat_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
