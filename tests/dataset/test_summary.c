/* summary.json and all_window_captions.json from a fabricated output tree,
 * compared byte for byte with a Python transcription of Cosmos Curator's
 * _write_split_result_summary / _write_all_window_captions run on the same
 * tree; plus the .bak{N} backups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/pyjson.h"
#include "dataset/records.h"
#include "dataset/summary.h"
#include "storage/fs.h"
#include "support/tmpdir.h"

#define PYTHON "/usr/bin/python3"

static const char COSMOS_SUMMARY_PY[] =
    "import json, pathlib, sys\n"
    "out, inp, listing, selected, run_time, vbytes, remuxed, sum_path, cap_path = sys.argv[1:10]\n"
    "rels = json.load(open(listing))\n"
    "run_time = float(run_time)\n"
    "pv = pathlib.Path(out, 'processed_videos')\n"
    "processed = sorted(str(x.relative_to(pv)) for x in pv.rglob('*') if x.is_file())\n"
    "keys = ['num_clips_filtered_by_motion', 'num_clips_filtered_by_aesthetic',\n"
    "        'num_clips_filtered_by_qwen_classifier', 'num_clips_filtered_by_qwen_semantic',\n"
    "        'num_clips_filtered_by_artificial_text', 'num_clips_passed', 'num_clips_transcoded',\n"
    "        'num_clips_with_embeddings', 'num_clips_with_caption', 'num_clips_with_webp']\n"
    "s = {'num_input_videos': len(rels), 'num_input_videos_selected': int(selected),\n"
    "     'num_processed_videos': len(processed), 'embedding_algorithm': 'internvideo2',\n"
    "     'total_video_duration': 0, 'total_clip_duration': 0, 'max_clip_duration': 0,\n"
    "     'pipeline_run_time': run_time, 'total_video_bytes': int(vbytes),\n"
    "     'num_remuxed_videos': int(remuxed), 'total_prompt_tokens': 0, 'total_output_tokens': 0}\n"
    "for k in keys:\n"
    "    s[f'total_{k}'] = 0\n"
    "data = {}\n"
    "for rel in rels:\n"
    "    p = pathlib.Path(out, 'processed_videos', f'{rel}.json')\n"
    "    data[rel] = [None, []]\n"
    "    if p.exists():\n"
    "        vm = json.load(open(p))\n"
    "        data[rel][0] = vm\n"
    "        for i in range(vm.get('num_clip_chunks', 0)):\n"
    "            cp = pathlib.Path(out, 'processed_clip_chunks', f'{rel}_{i}.json')\n"
    "            if cp.exists():\n"
    "                data[rel][1].append(json.load(open(cp)))\n"
    "for rel, (vm, chunks) in data.items():\n"
    "    s[rel] = {'source_video': str(pathlib.Path(inp, rel))}\n"
    "    if vm is None:\n"
    "        s[rel]['processed'] = False\n"
    "        continue\n"
    "    e = s[rel]\n"
    "    e['video_uuid'] = vm.get('video_uuid', 'N/A')\n"
    "    e['num_clip_chunks'] = len(chunks)\n"
    "    e['num_total_clips'] = vm.get('num_total_clips', 'N/A')\n"
    "    e['clips'] = []\n"
    "    e['filtered_clips'] = []\n"
    "    for k in keys:\n"
    "        e[k] = 0\n"
    "    for c in chunks:\n"
    "        for k in keys:\n"
    "            e[k] += c.get(k, 0)\n"
    "            s[f'total_{k}'] += c.get(k, 0)\n"
    "        e['clips'].extend(c.get('clips', []))\n"
    "        e['filtered_clips'].extend(c.get('filtered_clips', []))\n"
    "        s['total_clip_duration'] += c.get('total_clip_duration', 0)\n"
    "        s['max_clip_duration'] = max(s['max_clip_duration'], c.get('max_clip_duration', 0))\n"
    "        s['total_prompt_tokens'] += c.get('total_prompt_tokens', 0)\n"
    "        s['total_output_tokens'] += c.get('total_output_tokens', 0)\n"
    "    s['total_video_duration'] += vm.get('duration', 0)\n"
    "if s['total_output_tokens'] > 0 and run_time > 0:\n"
    "    s['output_tokens_per_s'] = round(s['total_output_tokens'] / (run_time * 60), 1)\n"
    "aw = {}\n"
    "for rel, (vm, chunks) in data.items():\n"
    "    if vm is None:\n"
    "        continue\n"
    "    aw[rel] = {}\n"
    "    for c in chunks:\n"
    "        for cid, cd in c.get('all_windows', {}).items():\n"
    "            if cid not in aw[rel]:\n"
    "                aw[rel][cid] = {}\n"
    "            aw[rel][cid].update(cd)\n"
    "open(sum_path, 'w').write(json.dumps(s, indent=4))\n"
    "open(cap_path, 'w').write(json.dumps(aw, indent=4))\n";

typedef struct {
    char *root, *in, *out;
    vc_strlist listing;
} fixture;

static vc_video video(fixture *f, const char *rel, char **path_out)
{
    char *path = vc_fs_join(f->in, rel);
    vc_video v = {.path = path, .relpath = (char *)rel, .info_ok = true};
    v.info.width = 1280;
    v.info.height = 720;
    v.info.fps = 24.0;
    v.info.duration = 60.06;
    v.info.num_frames = 1441;
    strcpy(v.info.video_codec, "h264");
    strcpy(v.info.pixel_format, "yuv420p");
    *path_out = path;
    return v;
}

static vc_clip clip(const char *uuid, double start, double end)
{
    vc_clip c = {0};
    strcpy(c.uuid, uuid);
    c.span_start = start;
    c.span_end = end;
    return c;
}

static void write_chunk(fixture *f, const vc_video *v, int64_t idx, const vc_chunk_stats *st,
                        const vc_clip *clips, size_t n, const vc_clip *filt, size_t nf,
                        const char *all_windows_json)
{
    json_t *aw = all_windows_json ? json_loads(all_windows_json, 0, NULL) : NULL;
    vc_chunk_record r = {.chunk_index = idx, .stats = st, .clips = clips, .n_clips = n,
                         .filtered = filt, .n_filtered = nf, .all_windows = aw};
    assert_int_equal(vc_write_clip_chunk(f->out, v, &r), 0);
    json_decref(aw);
}

/* a.mp4: 2 chunks with captions and tokens; b.mp4: never processed;
 * c/d.mp4: no clip (0 chunks); e.mp4: 1 of 2 chunks on disk; zzz.mp4:
 * processed in an earlier run, not listed now. a.mp4 is listed twice. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->root = vc_test_tmpdir("summary");
    f->in = vc_fs_join(f->root, "in");
    f->out = vc_fs_join(f->root, "out");
    const char *rels[] = {"a.mp4", "b.mp4", "c/d.mp4", "a.mp4", "e.mp4"};
    for (size_t i = 0; i < VC_ARRAY_LEN(rels); i++)
        vc_strlist_push(&f->listing, rels[i]);
    char *path;

    vc_video a = video(f, "a.mp4", &path);
    assert_int_equal(vc_write_processed_video(f->out, &a, 4, 2), 0);
    vc_clip a0[] = {clip("u1", 0.5, 10.5), clip("u2", 11.0, 20.5)};
    vc_clip af[] = {clip("u3", 21.0, 23.0)};
    vc_chunk_stats s0 = {.num_clips_filtered_by_motion = 1, .num_clips_passed = 2,
                         .num_clips_transcoded = 3, .num_clips_with_caption = 1,
                         .total_clip_duration = 21.5, .max_clip_duration = 10.0,
                         .total_prompt_tokens = 100, .total_output_tokens = 20};
    write_chunk(f, &a, 0, &s0, a0, 2, af, 1, "{\"u1\": {\"0_255\": \"cap \\u00e9 1\"}, \"u2\": {}}");
    vc_clip a1[] = {clip("u4", 30.0, 35.25)};
    vc_chunk_stats s1 = {.num_clips_passed = 1, .num_clips_transcoded = 1,
                         .total_clip_duration = 5.25, .max_clip_duration = 5.25};
    write_chunk(f, &a, 1, &s1, a1, 1, NULL, 0, "{\"u4\": {\"0_100\": \"cap4\"}}");
    free(path);

    vc_video d = video(f, "c/d.mp4", &path);
    d.info.duration = 1.5;
    assert_int_equal(vc_write_processed_video(f->out, &d, 0, 0), 0);
    free(path);

    vc_video e = video(f, "e.mp4", &path);
    assert_int_equal(vc_write_processed_video(f->out, &e, 2, 2), 0);
    vc_clip e0[] = {clip("u5", 0.0, 256.0)};
    vc_chunk_stats se = {.num_clips_passed = 1, .total_clip_duration = 256.0, .max_clip_duration = 256.0};
    write_chunk(f, &e, 0, &se, e0, 1, NULL, 0, NULL);
    free(path);

    vc_video z = video(f, "zzz.mp4", &path);
    assert_int_equal(vc_write_processed_video(f->out, &z, 0, 0), 0);
    free(path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = vc_test_rm_rf(f->root);
    vc_strlist_free(&f->listing);
    free(f->root);
    free(f->in);
    free(f->out);
    free(f);
    return rc;
}

static vc_summary_input summary_input(fixture *f)
{
    return (vc_summary_input){
        .output_path = f->out, .input_path = f->in, .input_videos = &f->listing,
        .num_input_videos_selected = 2, .embedding_algorithm = "internvideo2",
        .pipeline_run_time = 2.5, .total_video_bytes = 123456789, .num_remuxed_videos = 1,
        .write_all_caption_json = true,
    };
}

static char *read_text(const char *dir, const char *rel)
{
    char *p = vc_fs_join(dir, rel);
    char *s = vc_fs_read_all(p, NULL);
    free(p);
    return s;
}

static void run_python_reference(fixture *f, char **summary, char **captions)
{
    char *script = vc_fs_join(f->root, "ref.py");
    assert_int_equal(vc_fs_write_atomic(script, COSMOS_SUMMARY_PY, strlen(COSMOS_SUMMARY_PY)), 0);
    json_t *l = json_array();
    for (size_t i = 0; i < f->listing.len; i++)
        json_array_append_new(l, json_string(f->listing.items[i]));
    char *listing = vc_fs_join(f->root, "listing.json");
    assert_int_equal(json_dump_file(l, listing, 0), 0);
    json_decref(l);
    char *cmd = vc_asprintf(PYTHON " %s %s %s %s 2 2.5 123456789 1 %s/ref_summary.json %s/ref_captions.json",
                            script, f->out, f->in, listing, f->root, f->root);
    assert_int_equal(system(cmd), 0);
    *summary = read_text(f->root, "ref_summary.json");
    *captions = read_text(f->root, "ref_captions.json");
    free(cmd);
    free(listing);
    free(script);
}

static void test_summary_matches_cosmos(void **state)
{
    fixture *f = *state;
    if (access(PYTHON, X_OK) != 0)
        skip();
    char *want_summary, *want_captions;
    run_python_reference(f, &want_summary, &want_captions);
    vc_summary_input in = summary_input(f);
    assert_int_equal(vc_write_summary(&in), 0);
    char *got = read_text(f->out, "summary.json");
    assert_string_equal(got, want_summary);
    free(got);
    got = read_text(f->out, "v0/all_window_captions.json");
    assert_string_equal(got, want_captions);
    free(got);
    free(want_summary);
    free(want_captions);
}

static void test_summary_values(void **state)
{
    fixture *f = *state;
    vc_summary_input in = summary_input(f);
    json_t *s = vc_summary_json(&in, NULL);
    assert_int_equal(json_integer_value(json_object_get(s, "num_input_videos")), 5);
    assert_int_equal(json_integer_value(json_object_get(s, "num_processed_videos")), 4);
    json_t *b = json_object_get(s, "b.mp4");
    assert_true(json_is_false(json_object_get(b, "processed")));
    json_t *d = json_object_get(s, "c/d.mp4");
    assert_int_equal(json_integer_value(json_object_get(d, "num_clip_chunks")), 0);
    assert_int_equal(json_array_size(json_object_get(d, "clips")), 0);
    json_t *e = json_object_get(s, "e.mp4");
    assert_int_equal(json_integer_value(json_object_get(e, "num_clip_chunks")), 1);
    json_t *a = json_object_get(s, "a.mp4");
    assert_int_equal(json_array_size(json_object_get(a, "clips")), 3);
    assert_int_equal(json_integer_value(json_object_get(s, "total_num_clips_passed")), 4);
    assert_null(json_object_get(s, "zzz.mp4"));
    /* 20 tokens over 150 s -> round(0.1333, 1) */
    assert_true(json_real_value(json_object_get(s, "output_tokens_per_s")) == 0.1);
    /* The last key, as Python inserts it after the per-video entries. */
    char *text = vc_pyjson_dumps(s, 4);
    assert_non_null(strstr(text, "\"output_tokens_per_s\": 0.1\n}"));
    free(text);
    json_decref(s);
}

static void test_backups(void **state)
{
    fixture *f = *state;
    char *path = vc_fs_join(f->out, "summary.json");
    assert_int_equal(vc_fs_write_atomic(path, "old", 3), 0);
    vc_summary_input in = summary_input(f);
    in.write_all_caption_json = false;
    assert_int_equal(vc_write_summary(&in), 0);
    char *bak1 = read_text(f->out, "summary.json.bak1");
    assert_string_equal(bak1, "old");
    char *first = read_text(f->out, "summary.json");
    assert_int_equal(vc_write_summary(&in), 0);
    char *bak2 = read_text(f->out, "summary.json.bak2");
    assert_string_equal(bak2, first);
    char *cap = vc_fs_join(f->out, "v0/all_window_captions.json");
    assert_false(vc_fs_exists(cap));
    free(cap);
    free(bak1);
    free(bak2);
    free(first);
    free(path);
}

static void test_empty_run(void **state)
{
    (void)state;
    char *t = vc_test_tmpdir("summary-empty");
    vc_strlist none = {0};
    vc_summary_input in = {.output_path = t, .input_path = "/in", .input_videos = &none};
    json_t *s = vc_summary_json(&in, NULL);
    char *text = vc_pyjson_dumps(s, VC_PYJSON_COMPACT);
    /* json.dumps of Cosmos's dict for an empty run. */
    assert_string_equal(text,
        "{\"num_input_videos\": 0, \"num_input_videos_selected\": 0, \"num_processed_videos\": 0, "
        "\"embedding_algorithm\": \"internvideo2\", \"total_video_duration\": 0, "
        "\"total_clip_duration\": 0, \"max_clip_duration\": 0, \"pipeline_run_time\": 0.0, "
        "\"total_video_bytes\": 0, \"num_remuxed_videos\": 0, \"total_prompt_tokens\": 0, "
        "\"total_output_tokens\": 0, \"total_num_clips_filtered_by_motion\": 0, "
        "\"total_num_clips_filtered_by_aesthetic\": 0, \"total_num_clips_filtered_by_qwen_classifier\": 0, "
        "\"total_num_clips_filtered_by_qwen_semantic\": 0, \"total_num_clips_filtered_by_artificial_text\": 0, "
        "\"total_num_clips_passed\": 0, \"total_num_clips_transcoded\": 0, "
        "\"total_num_clips_with_embeddings\": 0, \"total_num_clips_with_caption\": 0, "
        "\"total_num_clips_with_webp\": 0}");
    free(text);
    json_decref(s);
    assert_int_equal(vc_test_rm_rf(t), 0);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_summary_matches_cosmos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backups, setup, teardown),
        cmocka_unit_test(test_empty_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
