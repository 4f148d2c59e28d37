/* dataset.h — datasets and the batch loader: manifests (CSV) or folder scans, subject-level splits,
 * 2D slices and 3D patches sampled from images and volumes, a byte-bounded cache of decoded
 * volumes, and a threaded loader whose batches are host float arrays ready for tassl_from_host.
 *
 * Repeatability: every random choice for sample i of epoch e (which slice, where the patch is,
 * every augmentation draw) comes from a stream keyed by (seed, e, i) — tassl_sample_seed() — and
 * the order of samples in an epoch from a permutation keyed by (seed, e). Batches are therefore
 * bit-identical whatever the number of worker threads.
 *
 * Coordinates: arrays are (C, D, H, W) as in image.h. Boxes are augment.h's tassl_box: voxel-edge
 * coordinates in (D, H, W) order (voxel i spans [i, i+1)), class in `label`; a manifest writes
 * them x-first (x = W, y = H, z = D), see docs/DATA.md.
 */
#ifndef TASSL_DATASET_H
#define TASSL_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "augment.h" /* tassl_box: (d, h, w) voxel-edge coordinates and a class `label` */
#include "image.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- manifests ------------------------------------------------------------------------------ */

#define TASSL_MAX_BOXES 32 /* boxes per sample (more in a manifest row is an error) */

typedef enum tassl_split {
    TASSL_SPLIT_NONE = -1, /* not assigned (yet) */
    TASSL_SPLIT_TRAIN = 0,
    TASSL_SPLIT_VAL = 1,
    TASSL_SPLIT_TEST = 2,
} tassl_split;

/* "train", "val", "test", "" for NONE. */
const char *tassl_split_name(tassl_split s);

typedef struct tassl_record {
    char *image;      /* absolute, normalised path */
    char *mask;       /* label map on the image's grid, or NULL */
    int label;        /* class for classification, -1 if none */
    int nboxes;
    tassl_box *boxes; /* (nboxes) or NULL, (D, H, W) voxel-edge coordinates */
    int box_dim;      /* 2: the row wrote x0 y0 x1 y1 boxes, 3: x0 y0 z0 x1 y1 z1 */
    char *subject;    /* never NULL: the image path when the manifest has no subject */
    int split;        /* tassl_split */
    int line;         /* line in the manifest (1-based), 0 for a folder scan */
} tassl_record;

typedef struct tassl_manifest {
    char source[4096]; /* manifest file or scanned folder, for messages */
    char root[4096];   /* data root: every path must lie inside it */
    int n;
    tassl_record *rec; /* (n) */
    int has_label, has_mask, has_boxes, has_split;
    int nclasses;      /* 1 + the largest label (classification), 0 if none */
} tassl_manifest;

/* Flags of tassl_manifest_parse. */
enum {
    TASSL_MANIFEST_NO_FS = 1, /* check paths lexically only (no realpath, no existence check):
                                 used by the fuzz target and to read a manifest before its data */
};

/* Read a CSV manifest (format in docs/DATA.md). Relative paths are resolved against the
 * manifest's folder; every path must resolve (symbolic links followed) inside `root` (NULL: the
 * manifest's folder). Errors name the file and line: TASSL_ERR_IO (manifest unreadable, an image
 * or mask missing), TASSL_ERR_FORMAT (unknown or duplicate column, missing `image` column, a row
 * with a missing column, bad label or box syntax, unterminated quote), TASSL_ERR_ARG (a path
 * outside the root, a subject given two different splits). *m is zeroed on failure. */
tassl_status tassl_manifest_read(tassl_manifest *m, const char *path, const char *root);

/* Parse manifest text from memory; `name` is used in messages, relative paths resolve against
 * base_dir, `root` must be given. flags: TASSL_MANIFEST_NO_FS. Same errors as _read. */
tassl_status tassl_manifest_parse(tassl_manifest *m, const char *text, size_t len,
                                  const char *name, const char *base_dir, const char *root,
                                  int flags);

/* Scan a folder (recursively, sorted by path, hidden entries skipped) for images: *.png, *.nii,
 * *.nii.gz. A file named STEM_mask.EXT or STEM_seg.EXT is the mask of STEM.EXT beside it.
 * Subject = the first-level subfolder an image is in, or its file stem at top level. No labels,
 * no splits. TASSL_ERR_IO if the folder cannot be read, TASSL_ERR_FORMAT if it holds no image,
 * TASSL_ERR_ARG for a mask without its image or a link leaving the folder. */
tassl_status tassl_manifest_scan(tassl_manifest *m, const char *dir);

/* Write m as a CSV manifest at `path` (atomically: PATH.tmp then rename), with the columns
 * m->has_* say, paths relative to the manifest's folder. TASSL_ERR_IO on failure. */
tassl_status tassl_manifest_write(const tassl_manifest *m, const char *path);

/* Append a record (strings copied, boxes copied). Updates has_* and nclasses. TASSL_ERR_NOMEM. */
tassl_status tassl_manifest_add(tassl_manifest *m, const tassl_record *r);

void tassl_manifest_free(tassl_manifest *m);

/* ---- splits --------------------------------------------------------------------------------- */

/* Assign a split to every record whose split is NONE, by subject: all records of one subject go
 * to the same split (a subject that already has a split in some row keeps it). The remaining
 * subjects are shuffled with `seed` (after sorting by name, so the file order does not matter)
 * and, when the manifest has labels, stratified by each subject's most frequent label; within a
 * stratum round(n·test_frac) subjects go to test, round(n·val_frac) to val, the rest to train.
 * TASSL_ERR_ARG for fractions outside [0, 1) or summing to >= 1, or for a subject already in two
 * splits (see tassl_manifest_check_subjects). */
tassl_status tassl_manifest_split(tassl_manifest *m, double val_frac, double test_frac,
                                  uint64_t seed);

/* TASSL_OK if no subject appears in two different splits; else TASSL_ERR_ARG naming the subject,
 * both splits and the lines. */
tassl_status tassl_manifest_check_subjects(const tassl_manifest *m);

/* ---- datasets ------------------------------------------------------------------------------- */

typedef enum tassl_sampling {
    TASSL_SAMPLING_UNIFORM = 0,  /* patch origin uniform over the image */
    TASSL_SAMPLING_FOREGROUND,   /* with probability fg_prob centred on a foreground voxel (mask > 0,
                                    or image > fg_threshold without a mask) */
    TASSL_SAMPLING_BALANCED,     /* with probability fg_prob centred on a voxel of a class drawn
                                    uniformly among the mask's classes present (0 included) */
} tassl_sampling;

typedef struct tassl_dataset_opts {
    int dim;               /* 2: 2D samples (slices of volumes, or 2D images); 3: 3D patches */
    int axis;              /* dim 2 from a volume: slice across 0 = D (axial in canonical
                              orientation), 1 = H (coronal), 2 = W (sagittal) */
    int64_t patch[3];      /* sample size (D, H, W); patch[0] = 1 for dim 2. 0 in an entry: the
                              image's full extent there (then all images must agree) */
    int sampling;          /* tassl_sampling */
    float fg_prob;         /* guided-centre probability (default 1 for FOREGROUND/BALANCED) */
    float fg_threshold;    /* foreground without a mask: image > threshold (default 0) */
    float pad_value;       /* value outside the image when a patch is larger (default 0) */
    int samples_per_image; /* samples drawn from each record per epoch (default 1) */
    int split;             /* use only records of this split; TASSL_SPLIT_NONE = all */
    size_t cache_bytes;    /* decoded-volume cache budget in bytes (default 1 GiB) */
    int channels;          /* expected channels (0: take the first image's) */
    const struct tassl_aug_config *image_norm; /* non-NULL: each record's whole image is
                              normalised once when loaded (tassl_aug_normalize; copied at open),
                              before any sample is cut from it; the foreground index is built
                              on the raw values first. NULL (default): raw values */
} tassl_dataset_opts;

/* Defaults: dim 2, axis 0, patch 1×128×128, uniform, fg_prob 1, threshold 0, pad 0,
 * 1 sample per image, all splits, 1 GiB cache, channels from the data. */
tassl_dataset_opts tassl_dataset_opts_default(void);

/* Where a sample came from, before augmentation: the source voxel region (D, H, W) it covers
 * (origin may be negative and origin + size may pass the image when padded). For dim 2 the
 * region has extent 1 along `axis`. Enough to check that no voxel leaks between splits. */
typedef struct tassl_provenance {
    int record;        /* index in the manifest */
    int axis;          /* slice axis for dim 2 from a volume, -1 for 3D patches / 2D images */
    int64_t origin[3]; /* (D, H, W) voxel index in the source of the sample's first voxel */
    int64_t size[3];   /* (D, H, W) extent in the source */
} tassl_provenance;

/* One sample, as handed to a transform and copied into a batch. */
typedef struct tassl_sample {
    tassl_image image;   /* (C, pd, ph, pw) */
    tassl_image mask;    /* (1, pd, ph, pw) label map; data NULL when the record has no mask */
    int label;           /* class or -1 */
    int nboxes;
    tassl_box boxes[TASSL_MAX_BOXES]; /* in sample coordinates, clipped to it */
    tassl_provenance prov;
} tassl_sample;

typedef struct tassl_dataset tassl_dataset;

/* Open a dataset over the records of m (copied; m may be freed after). Validates options
 * (TASSL_ERR_ARG naming the option) but reads no image yet. */
tassl_status tassl_dataset_open(tassl_dataset **ds, const tassl_manifest *m,
                                const tassl_dataset_opts *opts);
void tassl_dataset_close(tassl_dataset *ds);

/* Records in use (after the split filter) and samples per epoch (records · samples_per_image). */
int tassl_dataset_records(const tassl_dataset *ds);
int64_t tassl_dataset_len(const tassl_dataset *ds);
/* The manifest record behind used record r (0 <= r < tassl_dataset_records). */
const tassl_record *tassl_dataset_record(const tassl_dataset *ds, int r);
/* Sample shape (C, D, H, W) — known after the first image is read: reads it if needed. */
tassl_status tassl_dataset_shape(tassl_dataset *ds, int64_t shape[4]);

/* The 64-bit seed of sample `index` in epoch `epoch` (Philox of (seed, epoch, index)). */
uint64_t tassl_sample_seed(uint64_t seed, int64_t epoch, int64_t index);

/* Draw sample `index` (0 <= index < len) with seed `sample_seed`: record index / samples_per_image,
 * position from the seed. *s is allocated here (free with tassl_sample_free). Thread-safe.
 * Errors: those of the readers (missing or corrupt file, named), TASSL_ERR_ARG for an image and
 * mask on different grids or a channel/size mismatch with the dataset. */
tassl_status tassl_dataset_get(tassl_dataset *ds, int64_t index, uint64_t sample_seed,
                               tassl_sample *s);
void tassl_sample_free(tassl_sample *s);

/* Cache counters: hits, misses (decodes), bytes held, entries evicted. */
typedef struct tassl_cache_stats {
    int64_t hits, misses, evictions;
    size_t bytes;
} tassl_cache_stats;
tassl_cache_stats tassl_dataset_cache_stats(tassl_dataset *ds);

/* ---- loader --------------------------------------------------------------------------------- */

#define TASSL_MAX_VIEWS 4

/* What a transform fills for one sample. view[v] (C·D·H·W floats each) are the network inputs;
 * target, when non-NULL, the reconstruction target (Models Genesis, denoising); pretext the class
 * of a predictive pretext task (rotation, jigsaw, ...), -1 if none. */
typedef struct tassl_sample_out {
    int nviews;
    float *view[TASSL_MAX_VIEWS];
    float *target;
    int32_t pretext;
} tassl_sample_out;

/* A per-sample transform (augmentation, pretext generation). Called from worker threads, so it
 * must be thread-safe; all randomness must come from the sample's stream (seed, index, epoch) —
 * e.g. tassl_aug_apply(cfg, &as, seed, index, epoch, NULL). It may modify s->image, s->mask and
 * s->boxes (geometric transforms) but each view must have the batch's sample size. */
typedef tassl_status (*tassl_transform_fn)(void *user, tassl_sample *s, tassl_sample_out *out,
                                           uint64_t seed, int64_t index, int64_t epoch);

typedef struct tassl_loader_opts {
    int batch;          /* samples per batch (default 32) */
    int threads;        /* worker threads; 0 = load in the calling thread (default 1) */
    int prefetch;       /* batches prepared ahead (default 2 per thread, at least 1) */
    uint64_t seed;      /* per-sample streams and the epoch permutation */
    int shuffle;        /* 1 (default): a new permutation each epoch; 0: in order */
    int drop_last;      /* 1: drop an incomplete last batch (default 0) */
    int nviews;         /* views per sample (1..TASSL_MAX_VIEWS, default 1) */
    int want_target;    /* fill batch->target (default 0) */
    tassl_transform_fn transform; /* NULL: every view and the target are the sample itself */
    void *transform_user;
} tassl_loader_opts;

tassl_loader_opts tassl_loader_opts_default(void);

/* A batch in host memory, owned by the loader, valid until the next tassl_loader_next. */
typedef struct tassl_batch {
    int n;                   /* samples in this batch (< batch only for a last partial batch) */
    int64_t c, d, h, w;      /* per-sample shape */
    int nviews;
    float *x[TASSL_MAX_VIEWS]; /* (N, C, D, H, W) per view */
    float *target;           /* (N, C, D, H, W) or NULL */
    float *mask;             /* (N, 1, D, H, W) label maps, or NULL when the data has none */
    int32_t *label;          /* (N) class or -1 */
    int32_t *pretext;        /* (N) pretext class or -1 */
    int32_t *nboxes;         /* (N) */
    tassl_box *boxes;        /* (N, TASSL_MAX_BOXES) */
    tassl_provenance *prov;  /* (N) */
    int64_t *index;          /* (N) sample index within the epoch's dataset */
    int64_t epoch, number;   /* epoch and batch number within it */
} tassl_batch;

typedef struct tassl_loader tassl_loader;

/* Start a loader over ds (which must outlive it). Workers start on the first next(). */
tassl_status tassl_loader_open(tassl_loader **ld, tassl_dataset *ds, const tassl_loader_opts *opts);
/* Batches per epoch. */
int64_t tassl_loader_batches(const tassl_loader *ld);
/* Begin epoch `epoch` (stops any epoch in flight). Batches then come in order. */
tassl_status tassl_loader_start(tassl_loader *ld, int64_t epoch);
/* Next batch of the current epoch into *b (pointer into loader memory). Returns TASSL_OK and sets
 * *done = 1 (b untouched) at the end of the epoch; an error of any sample (named) otherwise. */
tassl_status tassl_loader_next(tassl_loader *ld, const tassl_batch **b, int *done);
void tassl_loader_close(tassl_loader *ld);

/* ---- synthetic data ------------------------------------------------------------------------- */

typedef struct tassl_synth_opts {
    int dim;               /* 2 or 3 */
    int64_t size[3];       /* (D, H, W); default 2D 1×128×128, 3D 64×64×64 */
    uint64_t seed;
    float lesion_prob;     /* probability that a case has lesions (default 0.5) */
    int max_lesions;       /* lesions in a positive case: 1..max (default 3) */
    float radius_min, radius_max; /* lesion radii in voxels (default 3..8) */
    float contrast_min, contrast_max; /* lesion intensity − local tissue, in tissue units
                                         (signed draw: ± this magnitude; default 0.3..0.8) */
    float noise;           /* Gaussian noise std relative to white matter (default 0.05) */
    float bias;            /* bias-field amplitude (multiplicative ±, default 0.2) */
} tassl_synth_opts;

tassl_synth_opts tassl_synth_opts_default(int dim);

/* Case `index` of the generator: a function of (opts, index) only. image (1, D, H, W) with
 * intensities roughly in [0, 1.2]; mask (1, D, H, W) label map (1 = lesion); boxes of each lesion;
 * *has_lesion the classification label. All allocated here. */
tassl_status tassl_synth_case(const tassl_synth_opts *o, int64_t index, tassl_image *image,
                              tassl_image *mask, tassl_box *boxes, int *nboxes, int *has_lesion);

/* Write cases 0..n-1 under out_dir: images/case_NNNNN.nii.gz (float32), masks/case_NNNNN.nii.gz
 * (uint8) and manifest.csv (image, label, mask, boxes, subject, split) with a seeded, stratified
 * 60/20/20 subject split (each case is its own subject). out_dir is created if needed.
 * TASSL_ERR_IO naming the file on failure. */
tassl_status tassl_synth_write(const tassl_synth_opts *o, int64_t n, const char *out_dir);

/* ---- real data: `tassl data prepare` --------------------------------------------------------- */

typedef struct tassl_prepare_opts {
    const char *dir;         /* output folder (created) */
    const char *mricron_dir; /* ch2, ch2bet, aal(+.txt), inia19 (default Debian mricron-data) */
    const char *itk_dir;     /* ITK example data (2D slices, KmeansTest T1); NULL: skip */
    const char *cranium;     /* InVesalius Cranium.inv3 head CT; NULL: skip */
    const char *stent;       /* imageio stent.npz CT; NULL: skip */
    int64_t patch;           /* 3D patch side and minimum slab gap (default 24) */
    int cls_per_class;       /* lobe patches per class in train; val and test get a quarter (40) */
    int det_gap;             /* slices between detection slabs (default 4) */
    uint64_t seed;
    int pool, colin;         /* build the unlabelled pool / the Colin27 tasks (default both) */
    void *log;               /* FILE * for progress lines, or NULL */
} tassl_prepare_opts;

/* Debian paths of every source, patch 24, 40 patches per class, gap 4, seed 0, both parts. */
tassl_prepare_opts tassl_prepare_opts_default(void);

/* Build the pretraining pool (DIR/pool) and the Colin27 tasks (DIR/colin27): files, manifests and
 * DIR/colin27/layout.csv (the slab of every z row in each layout). See docs/DATA.md. Missing
 * mricron files → TASSL_ERR_IO naming the file; a missing optional source is skipped with a log
 * line. Outputs are written atomically file by file; re-running overwrites them. */
tassl_status tassl_data_prepare(const tassl_prepare_opts *o);

#ifdef __cplusplus
}
#endif
#endif
