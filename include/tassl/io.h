/* io.h — image files in and out: PNG (libpng) and NIfTI-1/-2 (nifticlib), orientation,
 * resampling, grid checks and intensity statistics.
 *
 * Every reader fills a tassl_image (include/tassl/image.h): float voxels (C, D, H, W) row-major,
 * geometry in `spacing` (mm, (D, H, W) order) and `affine` ((w, h, d, 1) voxel index → world mm,
 * RAS+ as in NIfTI).
 *
 * Voxel values are the file's values, never normalised here (the modality presets do that):
 *   - PNG: the raw sample values: 0..255 for 8-bit, 0..65535 for 16-bit, 0..2^b-1 for 1/2/4-bit
 *     grey (kept, not stretched to 8 bits: a 1-bit mask reads as 0/1). Palette images are
 *     expanded to RGB (or RGBA when a tRNS chunk gives transparency); a tRNS chunk on grey or RGB
 *     adds an alpha channel (0 where the colour is transparent, 2^bits-1 elsewhere).
 *     channels = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; d = 1; spacing from the pHYs chunk when it
 *     is in metres, else 1 mm; affine = diag(spacing_w, spacing_h, 1).
 *   - NIfTI: value = scl_slope · stored + scl_inter when scl_slope is finite and non-zero, the
 *     stored value otherwise (slope 0 means "no scaling" in the standard).
 *
 * CANONICAL ORIENTATION (NIfTI, default on). The file's voxel→world matrix is the sform when
 * sform_code > 0, else the qform when qform_code > 0, else diag(pixdim) (NIfTI "method 1").
 * The voxel axes are then permuted and flipped — never resampled — so that in the image
 *     w (index i, fastest) increases toward Right   (world +x),
 *     h (index j)          increases toward Anterior (world +y),
 *     d (index k, slowest) increases toward Superior (world +z),
 * i.e. axis codes "RAS" (nibabel's as_closest_canonical). Each voxel axis goes to the world axis
 * it is closest to (nifticlib's nifti_dmat44_to_orientation); an oblique affine keeps its
 * rotation. `affine` is updated so that every voxel keeps its world position, and `spacing` holds
 * the pixdim of the file axis that landed on each of (D, H, W). Consequence for 2D use: an axial
 * slice img[c][k] is an (H, W) array whose row index grows toward anterior, so shown with row 0
 * at the top it appears upside down in radiological terms; the montage writer flips it.
 *
 * Errors: every function returns a tassl_status and sets tassl_last_error() to a message that
 * names the file and what was wrong ("ch2.nii.gz: truncated: header promises 7109137 bytes of
 * data after offset 352, the gzip stream ended after 4194304"). No function here exits or aborts
 * on bad input; nifticlib never calls exit() (checked: libnifti2 imports no exit/abort), but it
 * prints to stderr, so headers are validated here first and nifticlib's debug level is set to 0
 * (TASSL_NIFTI_DEBUG=N in the environment turns its diagnostics back on). nifticlib parses the
 * header; the voxels are read here with zlib (nifticlib's data path reads "x.nii" for
 * "x.nii.gz" when both exist), and a .nii.gz stream is read on to its end, so that zlib checks
 * its CRC, whenever at most 16 MiB of it follow the voxels read (always for a 3D file).
 *
 * Threads: every function here may run on several threads at once (the loader's workers);
 * they share no mutable state beyond nifticlib's settings, set once.
 */
#ifndef TASSL_IO_H
#define TASSL_IO_H

#include <stddef.h>
#include <stdint.h>
#include "image.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* File formats                                                                              */

typedef enum tassl_file_format {
    TASSL_FORMAT_UNKNOWN = 0,
    TASSL_FORMAT_PNG,
    TASSL_FORMAT_NIFTI1, /* .nii / .nii.gz, 348-byte header */
    TASSL_FORMAT_NIFTI2, /* .nii / .nii.gz, 540-byte header */
} tassl_file_format;

/* Identify a file by its content (PNG signature; gzip or plain NIfTI header with sizeof_hdr 348
 * or 540 in either byte order), not by its name. TASSL_ERR_IO if it cannot be opened or read,
 * TASSL_ERR_FORMAT (message lists the magic bytes found) if it is none of these. */
tassl_status tassl_image_sniff(const char *path, tassl_file_format *fmt);

/* Short name of a format: "png", "nifti1", "nifti2", "unknown". */
const char *tassl_file_format_name(tassl_file_format f);

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                   */

typedef enum tassl_nonfinite_policy {
    TASSL_NONFINITE_KEEP = 0, /* default: keep NaN/Inf voxels, count them in info->nonfinite */
    TASSL_NONFINITE_REJECT,   /* fail with TASSL_ERR_NUMERIC naming the file and the count */
    TASSL_NONFINITE_ZERO,     /* replace them by 0 (still counted) */
} tassl_nonfinite_policy;

typedef struct tassl_read_opts {
    tassl_nonfinite_policy nonfinite;
    int keep_file_order;    /* 1: skip the canonical reorientation (NIfTI); default 0 */
    int64_t volume;         /* 4D+ NIfTI: which volume to read (0-based over t·u·v·w); default 0 */
    int volumes_as_channels; /* 1: read every volume of a 4D+ file, one channel each */
    int is_label;           /* 1: the image is a label map: every value must be an integer (else
                               TASSL_ERR_FORMAT) and the result has is_label set */
    int64_t max_bytes;      /* refuse files whose decoded floats need more; 0 = default: half the
                               physical memory, and never more than 2^31-1 voxels */
} tassl_read_opts;

/* Defaults: keep NaN/Inf, canonical orientation, volume 0, not a label map, default limit. */
tassl_read_opts tassl_read_opts_default(void);

/* What a file's header says, and what reading did. Filled by every reader (fields of the other
 * format stay 0). Raw header values are the file's own, before canonical reorientation. */
typedef struct tassl_image_info {
    tassl_file_format format;
    char path[256];
    /* NIfTI header fields */
    int64_t dim[8];         /* dim[0] = number of dimensions, dim[1..7] sizes */
    double pixdim[8];       /* pixdim[1..3] voxel size (mm when xyz_units say so), [4] TR */
    int datatype;           /* NIFTI_TYPE_* code */
    char datatype_name[24]; /* "UINT8", "FLOAT32", ... (nifticlib's names) */
    int bitpix;
    double scl_slope, scl_inter;
    int64_t vox_offset;
    int qform_code, sform_code;
    double qform[4][4];     /* qto_xyz as nifticlib computes it (diag(pixdim) if qform_code 0) */
    double sform[4][4];     /* sto_xyz (all 0 if sform_code 0) */
    double file_affine[4][4]; /* the one used: sform if sform_code > 0, else qform */
    int xyz_units, time_units; /* NIFTI_UNITS_* */
    char orient_file[4];    /* axis codes of the file's voxel axes i, j, k: e.g. "LAS", "RAS" */
    char orient_image[4];   /* axis codes of the returned image ("RAS" unless keep_file_order) */
    int perm[3];            /* image axis a (0 = w/i, 1 = h/j, 2 = d/k) is file axis perm[a] ... */
    int flip[3];            /* ... read backwards when flip[a] */
    int64_t volumes;        /* number of 3D volumes: dim[4]·…·dim[7] (1 for 3D and PNG) */
    int is_integer_type;    /* stored datatype is integer (labels are possible) */
    /* PNG header fields */
    int png_bit_depth;      /* 1, 2, 4, 8 or 16 */
    int png_color_type;     /* PNG_COLOR_TYPE_* */
    int png_has_trns;
    /* filled when data is read */
    int64_t nonfinite;      /* NaN/Inf voxels found (before any replacement) */
} tassl_image_info;

/* Read a PNG or NIfTI file (format by content, see tassl_image_sniff) into *img (allocated here,
 * free with tassl_image_free; left zeroed on failure). opts may be NULL (defaults); info may be
 * NULL. Errors: TASSL_ERR_IO (missing/unreadable), TASSL_ERR_FORMAT (wrong magic, corrupt or
 * truncated, bad header values, non-integer labels), TASSL_ERR_NOMEM (size over max_bytes or the
 * 2^31-1 voxel limit, or malloc failed), TASSL_ERR_NUMERIC (NaN/Inf with policy REJECT),
 * TASSL_ERR_UNSUPPORTED (complex datatypes, NIfTI volumes > 2^31-1 voxels, ...). */
tassl_status tassl_image_read(const char *path, const tassl_read_opts *opts, tassl_image *img,
                              tassl_image_info *info);

/* PNG only. Same contract as tassl_image_read. Result (C, 1, H, W). */
tassl_status tassl_png_read(const char *path, const tassl_read_opts *opts, tassl_image *img,
                            tassl_image_info *info);
/* PNG from memory (used by the fuzz target); `name` is used in messages. */
tassl_status tassl_png_read_mem(const void *buf, size_t len, const char *name,
                                const tassl_read_opts *opts, tassl_image *img,
                                tassl_image_info *info);

/* NIfTI-1/-2, .nii or .nii.gz (any vox_offset, either byte order). Same contract as
 * tassl_image_read. 3D file → (1, D, H, W); 2D file → (1, 1, H, W); 4D+ → volume opts->volume,
 * or all volumes as channels with opts->volumes_as_channels. */
tassl_status tassl_nifti_read(const char *path, const tassl_read_opts *opts, tassl_image *img,
                              tassl_image_info *info);

/* Header only (NIfTI or PNG): fills *info without decoding voxels; validates the header the same
 * way the readers do, so a file that passes here fails later only on its data (truncation). */
tassl_status tassl_image_read_info(const char *path, tassl_image_info *info);

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                   */

typedef enum tassl_png_scale {
    TASSL_PNG_SCALE_CLAMP = 0, /* value rounded to nearest and clamped to [0, 2^bits-1] */
    TASSL_PNG_SCALE_UNIT,      /* [0, 1] → [0, 2^bits-1], then rounded and clamped */
    TASSL_PNG_SCALE_MINMAX,    /* image min..max (finite values, all channels) → 0..2^bits-1 */
} tassl_png_scale;

/* Write a 2D image (d must be 1) as PNG: channels 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; bit depth
 * 8 or 16. NaN becomes 0. Reading back a CLAMP-written image of in-range integers gives the same
 * values. pHYs is written from spacing (h, w) so the pixel size survives. The file is written to
 * PATH.tmp and renamed, so a failure never leaves a half-written PATH. */
tassl_status tassl_png_write(const char *path, const tassl_image *img, int bit_depth,
                             tassl_png_scale scale);

typedef enum tassl_nifti_dtype {
    TASSL_NIFTI_FLOAT32 = 0, /* images, probabilities */
    TASSL_NIFTI_UINT8,       /* labels 0..255: values must be integers in range, else ERR_ARG */
    TASSL_NIFTI_INT16,       /* labels -32768..32767: same rule */
} tassl_nifti_dtype;

/* Write img as a NIfTI-1 file (.nii or .nii.gz by the name; anything else is TASSL_ERR_ARG) with
 * its affine as both sform and qform (qform from the affine's polar decomposition; the sform is
 * exact), codes = xform_code (1 scanner, 2 aligned, 3 Talairach, 4 MNI; 0 → 1), pixdim from
 * spacing, units mm, scl_slope 1 / inter 0. Voxel order is the image's (canonical after a
 * canonical read); viewers place it by the affine, so predictions overlay the source. C > 1 is
 * written as a 4D file (dim[4] = C). Written to PATH.tmp then renamed. Round trip: reading the
 * file back gives the same sizes, spacing, affine (to float precision) and values. */
tassl_status tassl_nifti_write(const char *path, const tassl_image *img, tassl_nifti_dtype dtype,
                               int xform_code);

/* ------------------------------------------------------------------------------------------ */
/* Orientation and grids                                                                     */

/* Axis codes ("RAS", "LPI", ...) of the voxel axes (w, h, d) of img->affine: letter a names the
 * world direction that voxel axis a increases toward (R/L, A/P, S/I), as nibabel's aff2axcodes;
 * "???" for a singular affine. out must hold 4 chars. */
void tassl_image_axcodes(const tassl_image *img, char out[4]);

/* Permute and flip the voxel axes of img in place (data and geometry): new axis a (0 = w,
 * 1 = h, 2 = d) is old axis perm[a], reversed when flip[a]. spacing and affine are updated so
 * every voxel keeps its world position. TASSL_ERR_ARG if perm is not a permutation of 0,1,2;
 * TASSL_ERR_NOMEM. To undo a canonical read (write in the file's own voxel order) use
 * tassl_image_to_file_order. */
tassl_status tassl_image_permute(tassl_image *img, const int perm[3], const int flip[3]);
/* Inverse of the reorientation recorded in info (perm/flip): back to the file's voxel order. */
tassl_status tassl_image_to_file_order(tassl_image *img, const tassl_image_info *info);

/* TASSL_OK if a and b lie on the same grid: same d, h, w, spacing within tol_mm, and affine
 * entries within tol_mm (a tolerance of 1e-3 mm suits float headers; tol_mm <= 0 uses 1e-3).
 * Otherwise TASSL_ERR_ARG with a message naming both sources and listing every difference
 * ("img.nii.gz vs mask.nii.gz: size (D,H,W) 181x217x181 vs 91x109x91; spacing ..."). */
tassl_status tassl_image_same_grid(const tassl_image *a, const tassl_image *b, double tol_mm);

/* ------------------------------------------------------------------------------------------ */
/* Resampling                                                                                */

/* Resample src to a new voxel size spacing[3] (mm, (D, H, W) order) into *dst (allocated here).
 * Trilinear for images, nearest neighbour when src->is_label (labels stay labels). The physical
 * extent is kept: along each axis n' = max(1, round(n·s/s')), the first voxel edges coincide, so
 * new voxel i' samples old continuous index (i' + 0.5)·s'/s − 0.5, clamped to [0, n−1] (edge
 * voxels replicated). Axes of size 1 (the D of a 2D image) are left as they are, whatever
 * spacing[] says for them. dst's affine is updated to match (columns scaled by s'/s, origin
 * moved to the new first voxel centre); source and is_label are copied. TASSL_ERR_ARG on a
 * non-positive or non-finite target spacing; TASSL_ERR_NOMEM if the result is too large. */
tassl_status tassl_image_resample(const tassl_image *src, const double spacing[3],
                                  tassl_image *dst);

/* ------------------------------------------------------------------------------------------ */
/* Statistics (what `tassl inspect` prints)                                                   */

#define TASSL_STATS_MAX_LABELS 1024

typedef struct tassl_image_stats {
    int64_t count;          /* finite voxels counted */
    int64_t nonfinite;      /* NaN/Inf voxels (excluded from everything below) */
    double min, max, mean, std; /* std: population (divide by count) */
    double p1, p5, p50, p95, p99; /* percentiles, linear interpolation between order statistics
                                     (numpy's default "linear" method) */
    int all_integer;        /* every finite value is an integer */
    int nlabels;            /* distinct values when all_integer and there are at most
                               TASSL_STATS_MAX_LABELS of them; 0 otherwise */
    double label_value[TASSL_STATS_MAX_LABELS]; /* ascending */
    int64_t label_count[TASSL_STATS_MAX_LABELS];
} tassl_image_stats;

/* Statistics of channel `channel` of img, or of all channels when channel < 0. TASSL_ERR_ARG on
 * a bad channel; TASSL_ERR_NOMEM (the percentiles need a copy of the finite values). */
tassl_status tassl_image_stats_compute(const tassl_image *img, int channel,
                                       tassl_image_stats *st);

/* Write an 8-bit grey PNG montage of `nslices` evenly spaced slices (axial: along D) of channel 0,
 * in a grid of ceil(sqrt(n)) columns, intensities mapped p1..p99 → 0..255 (labels: min..max),
 * each slice flipped vertically so that, for a canonical image, anterior is up and the
 * patient's right is on the right of the screen ("neurological" view). nslices <= 0 → 16
 * (or D if smaller). For a 2D image it writes the one slice. */
tassl_status tassl_image_write_montage(const char *path, const tassl_image *img, int nslices);

#ifdef __cplusplus
}
#endif
#endif
