/* det_write.c — detection predictions on disk (docs/PROTOCOL.md): predictions/boxes.csv,
 * predictions/boxes.json (atomically: temporary file, fsync, rename, so an interrupted run never
 * leaves a half-written file under the final name) and predictions/index.csv (the driver's
 * task_index writer, one row per record with empty truth and prediction). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ckpt/internal.h"
#include "det.h"
#include "task_internal.h"
#include "tassl/status.h"

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static tassl_status write_csv(const char *path, const det_record_info *recs, const tassl_det_box *b,
                              int64_t n) {
    tassl_atomic_file af;
    tassl_status s = tassl_atomic_open(path, &af);
    if (s != TASSL_OK) return s;
    fputs("record,image,class,score,z0,y0,x0,z1,y1,x1\n", af.f);
    for (int64_t i = 0; i < n; i++) {
        const det_record_info *r = &recs[b[i].image];
        fprintf(af.f, "%d,", r->record);
        task_csv_field(af.f, r->image);
        /* %.9g: floats round-trip */
        fprintf(af.f, ",%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", b[i].cls, (double)b[i].score,
                (double)b[i].lo[0], (double)b[i].lo[1], (double)b[i].lo[2], (double)b[i].hi[0],
                (double)b[i].hi[1], (double)b[i].hi[2]);
    }
    if (ferror(af.f)) {
        tassl_atomic_abort(&af);
        return tassl_error(TASSL_ERR_IO, "%s: write failed", path);
    }
    return tassl_atomic_commit(&af);
}

static tassl_status write_index(const char *dir, const det_record_info *recs, int nrec) {
    task_index *ix;
    tassl_status s = task_index_open(dir, &ix);
    if (s != TASSL_OK) return s;
    for (int i = 0; i < nrec; i++)
        task_index_row(ix, recs[i].record, recs[i].image, "", "");
    return task_index_close(ix);
}

static json_t *box_json(const tassl_det_box *b) {
    json_t *o = json_object();
    json_t *lo = json_array(), *hi = json_array();
    for (int a = 0; a < 3; a++) {
        json_array_append_new(lo, json_real(b->lo[a]));
        json_array_append_new(hi, json_real(b->hi[a]));
    }
    json_object_set_new(o, "class", json_integer(b->cls));
    json_object_set_new(o, "score", json_real(b->score));
    json_object_set_new(o, "lo", lo);
    json_object_set_new(o, "hi", hi);
    return o;
}

static tassl_status write_json(const char *path, const det_record_info *recs, int nrec,
                               const tassl_det_box *b, int64_t n) {
    json_t *root = json_array();
    json_t **lists = calloc((size_t)(nrec > 0 ? nrec : 1), sizeof *lists);
    if (!root || !lists) {
        json_decref(root);
        free(lists);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    }
    for (int i = 0; i < nrec; i++) {
        json_t *e = json_object();
        lists[i] = json_array();
        json_object_set_new(e, "record", json_integer(recs[i].record));
        json_object_set_new(e, "image", json_string(recs[i].image ? recs[i].image : ""));
        json_object_set_new(e, "boxes", lists[i]); /* borrowed pointer stays valid */
        json_array_append_new(root, e);
    }
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(lists[b[i].image], box_json(&b[i]));
    free(lists);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (!text) return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    tassl_atomic_file af;
    tassl_status s = tassl_atomic_open(path, &af);
    if (s != TASSL_OK) {
        free(text);
        return s;
    }
    fputs(text, af.f);
    fputc('\n', af.f);
    free(text);
    if (ferror(af.f)) {
        tassl_atomic_abort(&af);
        return tassl_error(TASSL_ERR_IO, "%s: write failed", path);
    }
    return tassl_atomic_commit(&af);
}

tassl_status det_write_predictions(const char *dir, const det_record_info *recs, int nrec,
                                   const tassl_det_box *boxes, int64_t nboxes) {
    for (int64_t i = 0; i < nboxes; i++)
        TASSL_CHECK(boxes[i].image >= 0 && boxes[i].image < nrec,
                    "det_write_predictions: box %lld of image %lld, %d records", (long long)i,
                    (long long)boxes[i].image, nrec);
    const char *names[2] = {"boxes.csv", "boxes.json"};
    tassl_status s = TASSL_OK;
    for (int k = 0; k < 2 && s == TASSL_OK; k++) {
        char *p = join(dir, names[k]);
        if (!p) return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", dir);
        s = k == 0 ? write_csv(p, recs, boxes, nboxes) : write_json(p, recs, nrec, boxes, nboxes);
        free(p);
    }
    return s == TASSL_OK ? write_index(dir, recs, nrec) : s;
}
