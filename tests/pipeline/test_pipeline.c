/* The engine must deliver every item exactly once through concurrent stages,
 * keep queues bounded, and free everything on cancel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "pipeline/engine.h"
#include "pipeline/queue.h"
#include "util/common.h"

static atomic_long live_items;
static atomic_long sum_seen;
static atomic_long max_queue_seen;

static int *new_item(int v)
{
    int *p = vc_xmalloc(sizeof(int));
    *p = v;
    atomic_fetch_add(&live_items, 1);
    return p;
}

static void drop_item(void *item)
{
    free(item);
    atomic_fetch_sub(&live_items, 1);
}

/* Stage 1: each item becomes two items (v*2 and v*2+1). */
static int fanout(vc_stage_ctx *ctx, void *item)
{
    int v = *(int *)item;
    drop_item(item);
    vc_stage_emit(ctx, new_item(v * 2));
    vc_stage_emit(ctx, new_item(v * 2 + 1));
    return 0;
}

static int sink(vc_stage_ctx *ctx, void *item)
{
    (void)ctx;
    atomic_fetch_add(&sum_seen, *(int *)item);
    drop_item(item);
    return 0;
}

static const vc_stage fanout_stage = { "fanout", fanout, drop_item };
static const vc_stage sink_stage = { "sink", sink, drop_item };

static void test_all_items_delivered(void **state)
{
    (void)state;
    atomic_store(&sum_seen, 0);
    vc_pipeline *p = vc_pipeline_new();
    vc_pipeline_add(p, &fanout_stage, NULL, 3, 4);
    vc_pipeline_add(p, &sink_stage, NULL, 2, 2);
    vc_pipeline_start(p);
    const int n = 1000;
    for (int i = 0; i < n; i++)
        assert_true(vc_pipeline_feed(p, new_item(i)));
    assert_int_equal(vc_pipeline_finish(p), 0);
    vc_pipeline_free(p);
    /* sum over i of (2i + 2i+1) = 4*sum(i) + n */
    long want = 4L * (n - 1) * n / 2 + n;
    assert_int_equal(atomic_load(&sum_seen), want);
    assert_int_equal(atomic_load(&live_items), 0);
}

static int slow_sink(vc_stage_ctx *ctx, void *item)
{
    (void)ctx;
    usleep(2000);
    drop_item(item);
    return 0;
}

static const vc_stage slow_stage = { "slow", slow_sink, drop_item };

static void *cancel_later(void *arg)
{
    usleep(20000);
    vc_pipeline_cancel(arg);
    return NULL;
}

static void test_cancel_frees_everything(void **state)
{
    (void)state;
    vc_pipeline *p = vc_pipeline_new();
    vc_pipeline_add(p, &fanout_stage, NULL, 1, 2);
    vc_pipeline_add(p, &slow_stage, NULL, 1, 2);
    vc_pipeline_start(p);
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, p);
    int fed = 0;
    for (int i = 0; i < 100000; i++) {
        if (!vc_pipeline_feed(p, new_item(i)))
            break;
        fed++;
    }
    pthread_join(t, NULL);
    assert_true(fed < 100000);
    assert_int_equal(vc_pipeline_finish(p), -2);
    vc_pipeline_free(p);
    assert_int_equal(atomic_load(&live_items), 0);
}

static int failing(vc_stage_ctx *ctx, void *item)
{
    (void)ctx;
    int v = *(int *)item;
    drop_item(item);
    return v == 5 ? -7 : 0;
}

static const vc_stage failing_stage = { "failing", failing, drop_item };

static void test_fatal_error_stops_run(void **state)
{
    (void)state;
    vc_pipeline *p = vc_pipeline_new();
    vc_pipeline_add(p, &failing_stage, NULL, 1, 1);
    vc_pipeline_start(p);
    for (int i = 0; i < 50; i++)
        if (!vc_pipeline_feed(p, new_item(i)))
            break;
    assert_int_equal(vc_pipeline_finish(p), -7);
    vc_pipeline_free(p);
    assert_int_equal(atomic_load(&live_items), 0);
}

static void *producer(void *arg)
{
    vc_queue *q = arg;
    for (intptr_t i = 1; i <= 200; i++)
        vc_queue_push(q, (void *)i);
    vc_queue_close(q);
    return NULL;
}

static void test_queue_bounded_fifo(void **state)
{
    (void)state;
    vc_queue *q = vc_queue_new(3);
    pthread_t t;
    pthread_create(&t, NULL, producer, q);
    intptr_t expect = 1;
    void *item;
    while ((item = vc_queue_pop(q)) != NULL) {
        size_t len = vc_queue_len(q);
        if ((long)len > atomic_load(&max_queue_seen))
            atomic_store(&max_queue_seen, (long)len);
        assert_int_equal((intptr_t)item, expect++);
    }
    pthread_join(t, NULL);
    assert_int_equal(expect, 201);
    assert_true(atomic_load(&max_queue_seen) <= 3);
    vc_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_bounded_fifo),
        cmocka_unit_test(test_all_items_delivered),
        cmocka_unit_test(test_cancel_frees_everything),
        cmocka_unit_test(test_fatal_error_stops_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
