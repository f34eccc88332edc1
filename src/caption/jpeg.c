#include "caption/jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <jpegint.h>

#include "caption/fdct.h"
#include "util/common.h"

struct vc_jpeg {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr em;
    struct jpeg_destination_mgr dest;
    jmp_buf jb;
    uint8_t *out;                /* grows, reused */
    size_t cap, len;
    uint8_t *strip;              /* 16 luma + 2 x 8 chroma rows, block-padded */
    size_t strip_cap;
    vc_fdct2_fn fdct;            /* NULL: libjpeg's own DCT */
    vc_fdct_div div[NUM_QUANT_TBLS];
    int div_quality;             /* the quality div[] is for, 0: none yet */
    JDIMENSION imcu_row;         /* the strip compress_strip() gets next */
    char err[JMSG_LENGTH_MAX + 32];
};

static void on_error(j_common_ptr c)
{
    vc_jpeg *j = (vc_jpeg *)c->client_data;
    char msg[JMSG_LENGTH_MAX];
    c->err->format_message(c, msg);
    snprintf(j->err, sizeof j->err, "%s", msg);
    longjmp(j->jb, 1);
}

static void no_message(j_common_ptr c)
{
    (void)c;
}

static void dest_init(j_compress_ptr c)
{
    vc_jpeg *j = (vc_jpeg *)c->client_data;
    c->dest->next_output_byte = j->out;
    c->dest->free_in_buffer = j->cap;
}

/* libjpeg's buffer is full: double it (rare: the first estimate holds a
 * frame at quality 100) */
static boolean dest_grow(j_compress_ptr c)
{
    vc_jpeg *j = (vc_jpeg *)c->client_data;
    size_t used = j->cap;
    j->cap *= 2;
    j->out = vc_xrealloc(j->out, j->cap);
    c->dest->next_output_byte = j->out + used;
    c->dest->free_in_buffer = j->cap - used;
    return TRUE;
}

static void dest_term(j_compress_ptr c)
{
    vc_jpeg *j = (vc_jpeg *)c->client_data;
    j->len = j->cap - c->dest->free_in_buffer;
}

/* One block to transform: its 8 rows, its column, its table, where to. */
typedef struct block_job {
    const uint8_t *const *rows;
    int x, tbl;
    int16_t *out;
} block_job;

/* The blocks of one MCU, two by two where they share a table. */
static void run_jobs(const vc_jpeg *j, const block_job *b, int n)
{
    int16_t spare[64];
    for (int i = 0; i < n;) {
        if (i + 1 < n && b[i + 1].tbl == b[i].tbl) {
            j->fdct(b[i].rows, b[i].x, b[i + 1].rows, b[i + 1].x, &j->div[b[i].tbl], b[i].out, b[i + 1].out);
            i += 2;
        } else {
            j->fdct(b[i].rows, b[i].x, b[i].rows, b[i].x, &j->div[b[i].tbl], b[i].out, spare);
            i++;
        }
    }
}

/* libjpeg's compress_data() for one strip (iMCU row) of an interleaved
 * scan, with our DCT (caption/fdct.h) and the same MCUs: blocks past the
 * image's right or bottom edge are zero with the DC of the block before,
 * as jccoefct.c makes them. libjpeg then Huffman-codes each MCU. */
static boolean compress_strip(j_compress_ptr c, JSAMPIMAGE in)
{
    vc_jpeg *j = (vc_jpeg *)c->client_data;
    bool last_row = j->imcu_row == c->total_iMCU_rows - 1;
    JBLOCK coef[C_MAX_BLOCKS_IN_MCU];
    JBLOCKROW mcu[C_MAX_BLOCKS_IN_MCU];
    const uint8_t *rows[MAX_COMPS_IN_SCAN][MAX_SAMP_FACTOR][8];
    for (int ci = 0; ci < c->comps_in_scan; ci++) {
        const jpeg_component_info *cp = c->cur_comp_info[ci];
        for (int yi = 0; yi < cp->MCU_height; yi++)
            for (int r = 0; r < 8; r++)
                rows[ci][yi][r] = in[cp->component_index][yi * 8 + r];
    }
    /* 4:2:0 MCUs wholly inside the frame: Y's two rows of two, then Cb
     * and Cr, as three pairs */
    bool yuv420 = c->comps_in_scan == 3 && c->cur_comp_info[0]->MCU_width == 2 &&
                  c->cur_comp_info[0]->MCU_height == 2 && c->blocks_in_MCU == 6 &&
                  c->cur_comp_info[1]->quant_tbl_no == c->cur_comp_info[2]->quant_tbl_no;
    JDIMENSION whole = yuv420 && !(last_row && c->cur_comp_info[0]->last_row_height < 2) ? c->MCUs_per_row - 1 : 0;
    for (int b = 0; b < 6; b++)
        mcu[b] = &coef[b];
    for (JDIMENSION m = 0; m < whole; m++) {
        int x = (int)m * 16;
        j->fdct(rows[0][0], x, rows[0][0], x + 8, &j->div[c->cur_comp_info[0]->quant_tbl_no], coef[0], coef[1]);
        j->fdct(rows[0][1], x, rows[0][1], x + 8, &j->div[c->cur_comp_info[0]->quant_tbl_no], coef[2], coef[3]);
        j->fdct(rows[1][0], x / 2, rows[2][0], x / 2, &j->div[c->cur_comp_info[1]->quant_tbl_no], coef[4], coef[5]);
        if (!c->entropy->encode_mcu(c, mcu))
            ERREXIT(c, JERR_CANT_SUSPEND);
    }
    for (JDIMENSION m = whole; m < c->MCUs_per_row; m++) {
        block_job jobs[C_MAX_BLOCKS_IN_MCU];
        int njobs = 0, blkn = 0;
        for (int ci = 0; ci < c->comps_in_scan; ci++) {
            const jpeg_component_info *cp = c->cur_comp_info[ci];
            int real = m < c->MCUs_per_row - 1 ? cp->MCU_width : cp->last_col_width;
            for (int yi = 0; yi < cp->MCU_height; yi++, blkn += cp->MCU_width) {
                bool row_real = !last_row || yi < cp->last_row_height;
                for (int bi = 0; bi < cp->MCU_width; bi++) {
                    mcu[blkn + bi] = &coef[blkn + bi];
                    if (row_real && bi < real) {
                        jobs[njobs++] = (block_job){ rows[ci][yi], (int)(m * (JDIMENSION)cp->MCU_sample_width) + bi * 8,
                                                     cp->quant_tbl_no, coef[blkn + bi] };
                        continue;
                    }
                    memset(coef[blkn + bi], 0, sizeof(JBLOCK));
                }
            }
        }
        run_jobs(j, jobs, njobs);
        /* the dummy blocks' DCs, in MCU order (each may copy the one before) */
        blkn = 0;
        for (int ci = 0; ci < c->comps_in_scan; ci++) {
            const jpeg_component_info *cp = c->cur_comp_info[ci];
            int real = m < c->MCUs_per_row - 1 ? cp->MCU_width : cp->last_col_width;
            for (int yi = 0; yi < cp->MCU_height; yi++, blkn += cp->MCU_width) {
                if (last_row && yi >= cp->last_row_height) {
                    for (int bi = 0; bi < cp->MCU_width; bi++)
                        coef[blkn + bi][0] = coef[blkn - 1][0];
                } else {
                    for (int bi = real; bi < cp->MCU_width; bi++)
                        coef[blkn + bi][0] = coef[blkn + bi - 1][0];
                }
            }
        }
        if (!c->entropy->encode_mcu(c, mcu))
            ERREXIT(c, JERR_CANT_SUSPEND);   /* our destination never suspends */
    }
    j->imcu_row++;
    return TRUE;
}

vc_jpeg *vc_jpeg_new(void)
{
    vc_jpeg *j = vc_xcalloc(1, sizeof(*j));
    j->c.err = jpeg_std_error(&j->em);
    j->em.error_exit = on_error;
    j->em.output_message = no_message;
    j->c.client_data = j;
    if (setjmp(j->jb)) {
        free(j);
        return NULL;
    }
    jpeg_create_compress(&j->c);
    j->dest.init_destination = dest_init;
    j->dest.empty_output_buffer = dest_grow;
    j->dest.term_destination = dest_term;
    j->c.dest = &j->dest;
    j->fdct = vc_fdct2_best();
    return j;
}

void vc_jpeg_free(vc_jpeg *j)
{
    if (!j)
        return;
    jpeg_destroy_compress(&j->c);
    free(j->out);
    free(j->strip);
    free(j);
}

void vc_jpeg_use_dct(vc_jpeg *j, vc_fdct2_fn f)
{
    j->fdct = f;
}

const char *vc_jpeg_error(const vc_jpeg *j)
{
    return j->err;
}

/* Rows y0 .. y0 + n - 1 of a plane into dst (pw bytes apart, pw >= w),
 * the last row and the last column repeated past the plane's edge, as
 * libjpeg pads a frame itself. */
static void copy_rows(uint8_t *dst, size_t pw, const uint8_t *src, int stride, int w, int h, int y0, int n,
                      JSAMPROW *rows)
{
    for (int i = 0; i < n; i++) {
        int y = y0 + i < h ? y0 + i : h - 1;
        uint8_t *d = dst + (size_t)i * pw;
        memcpy(d, src + (ptrdiff_t)y * stride, (size_t)w);
        memset(d + w, d[w - 1], pw - (size_t)w);
        rows[i] = d;
    }
}

int vc_jpeg_encode420(vc_jpeg *j, const uint8_t *const planes[3], const int strides[3], int w, int h, int quality,
                      const uint8_t **out, size_t *len)
{
    if (w <= 0 || h <= 0 || quality < 1 || quality > 100) {
        snprintf(j->err, sizeof j->err, "bad JPEG size %dx%d or quality %d", w, h, quality);
        return -1;
    }
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    size_t yw = ((size_t)w + 15) & ~(size_t)15, cpw = yw / 2;   /* whole 16x16 MCUs */
    size_t need = 16 * yw + 2 * 8 * cpw;
    if (j->strip_cap < need) {
        free(j->strip);
        j->strip = vc_xcalloc(need, 1);
        j->strip_cap = need;
    }
    size_t est = (size_t)w * (size_t)h / 2 + 4096;
    if (j->cap < est) {
        j->out = vc_xrealloc(j->out, est);
        j->cap = est;
    }
    struct jpeg_compress_struct *c = &j->c;
    if (setjmp(j->jb)) {
        jpeg_abort_compress(c);
        return -1;
    }
    c->image_width = (JDIMENSION)w;
    c->image_height = (JDIMENSION)h;
    c->input_components = 3;
    c->in_color_space = JCS_YCbCr;
    jpeg_set_defaults(c);
    jpeg_set_colorspace(c, JCS_YCbCr);
    jpeg_set_quality(c, quality, TRUE);
    c->dct_method = JDCT_ISLOW;   /* as fast here as IFAST (Huffman-bound), and exact */
    c->raw_data_in = TRUE;
    c->comp_info[0].h_samp_factor = c->comp_info[0].v_samp_factor = 2;
    for (int k = 1; k < 3; k++)
        c->comp_info[k].h_samp_factor = c->comp_info[k].v_samp_factor = 1;
    jpeg_start_compress(c, TRUE);
    if (j->fdct && c->comps_in_scan == 3) {
        if (j->div_quality != quality) {
            for (int t = 0; t < 2; t++)
                vc_fdct_div_init(&j->div[t], c->quant_tbl_ptrs[t]->quantval);
            j->div_quality = quality;
        }
        j->imcu_row = 0;
        c->coef->compress_data = compress_strip;
    }
    JSAMPROW yr[16], cbr[8], crr[8];
    JSAMPARRAY data[3] = { yr, cbr, crr };
    uint8_t *sy = j->strip, *scb = sy + 16 * yw, *scr = scb + 8 * cpw;
    for (int y = 0; y < h; y += 16) {
        copy_rows(sy, yw, planes[0], strides[0], w, h, y, 16, yr);
        copy_rows(scb, cpw, planes[1], strides[1], cw, ch, y / 2, 8, cbr);
        copy_rows(scr, cpw, planes[2], strides[2], cw, ch, y / 2, 8, crr);
        jpeg_write_raw_data(c, data, 16);
    }
    jpeg_finish_compress(c);
    *out = j->out;
    *len = j->len;
    return 0;
}
