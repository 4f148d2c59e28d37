/* png.c — PNG reading and writing through libpng.
 *
 * The file is read into memory and decoded from there (the fuzz target feeds memory directly).
 * libpng reports errors by longjmp: the error handler copies libpng's message and jumps back to
 * the one setjmp in decode(), which frees everything and returns a status naming the file.
 * Values are kept raw (see include/tassl/io.h): palette → RGB(A) through libpng; for grey and RGB
 * with a tRNS colour key the alpha channel is computed here, because libpng's tRNS→alpha would
 * also stretch 1/2/4-bit grey to 8 bits.
 */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io_internal.h"

typedef struct png_ctx {
    jmp_buf jb;
    char msg[256];
    char warn[160]; /* libpng's last warning: often says what an error is about */
    const unsigned char *buf;
    size_t len, pos;
} png_ctx;

static void on_error(png_structp png, png_const_charp m) {
    png_ctx *c = png_get_error_ptr(png);
    if (c->warn[0])
        snprintf(c->msg, sizeof c->msg, "%s (%s)", m ? m : "libpng error", c->warn);
    else
        snprintf(c->msg, sizeof c->msg, "%s", m ? m : "libpng error");
    longjmp(c->jb, 1);
}

/* reader: keep the warning for the error message; writer: ignore */
static void on_warning(png_structp png, png_const_charp m) {
    png_ctx *c = png_get_error_ptr(png);
    if (c && m) snprintf(c->warn, sizeof c->warn, "%s", m);
}

static void on_wwarning(png_structp png, png_const_charp m) { (void)png, (void)m; }

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (c->len - c->pos < n) png_error(png, "unexpected end of file (the file is truncated)");
    memcpy(out, c->buf + c->pos, n);
    c->pos += n;
}

static const char *color_name(int ct) {
    switch (ct) {
    case PNG_COLOR_TYPE_GRAY: return "grey";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "grey+alpha";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    }
    return "?";
}

static void fill_png_info(tassl_image_info *info, const char *name, uint32_t w, uint32_t h,
                          int depth, int ctype, int trns, double sw, double sh) {
    memset(info, 0, sizeof *info);
    info->format = TASSL_FORMAT_PNG;
    tassl_io_copy_path(info->path, sizeof info->path, name);
    info->dim[0] = 2;
    info->dim[1] = w;
    info->dim[2] = h;
    for (int i = 3; i < 8; i++) info->dim[i] = 1;
    info->pixdim[0] = 1;
    info->pixdim[1] = sw;
    info->pixdim[2] = sh;
    info->pixdim[3] = 1;
    info->bitpix = depth;
    info->scl_slope = 1;
    info->png_bit_depth = depth;
    info->png_color_type = ctype;
    info->png_has_trns = trns;
    info->volumes = 1;
    info->is_integer_type = 1;
    for (int a = 0; a < 3; a++) info->perm[a] = a;
    info->file_affine[0][0] = sw;
    info->file_affine[1][1] = sh;
    info->file_affine[2][2] = 1;
    info->file_affine[3][3] = 1;
    memcpy(info->orient_file, "RAS", 4);
    memcpy(info->orient_image, "RAS", 4);
    snprintf(info->datatype_name, sizeof info->datatype_name, "%s%d", color_name(ctype), depth);
}

/* Decode buf; header_only fills info (never NULL here) and stops after the header chunks. */
static tassl_status decode_png(const unsigned char *buf, size_t len, const char *name,
                           const tassl_read_opts *opts, tassl_image *img, tassl_image_info *info,
                           int header_only) {
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return tassl_error(TASSL_ERR_FORMAT, "%s: not a PNG file (bad signature)", name);
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.buf = buf;
    ctx.len = len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) return tassl_error(TASSL_ERR_NOMEM, "%s: cannot create a libpng reader", name);
    png_infop pi = png_create_info_struct(png);
    /* volatile: assigned after setjmp and used after a longjmp */
    unsigned char *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    if (!pi || setjmp(ctx.jb)) {
        free(raw);
        free(rows);
        png_destroy_read_struct(&png, pi ? &pi : NULL, NULL);
        if (img) tassl_image_free(img);
        return tassl_error(TASSL_ERR_FORMAT, "%s: corrupt PNG: %s", name,
                           ctx.msg[0] ? ctx.msg : "cannot allocate libpng structures");
    }
    png_set_read_fn(png, &ctx, on_read);
    png_set_sig_bytes(png, 0);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)64 << 20);
    png_read_info(png, pi);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, pi, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int trns = png_get_valid(png, pi, PNG_INFO_tRNS) != 0;
    double sw = 1, sh = 1;
    png_uint_32 rx, ry;
    int unit;
    if (png_get_pHYs(png, pi, &rx, &ry, &unit) && unit == PNG_RESOLUTION_METER && rx > 0 && ry > 0) {
        sw = 1000.0 / rx; /* pixels per metre → mm per pixel */
        sh = 1000.0 / ry;
    }
    fill_png_info(info, name, w, h, depth, ctype, trns, sw, sh);
    if (header_only) {
        png_destroy_read_struct(&png, &pi, NULL);
        return TASSL_OK;
    }

    /* transforms: palette → RGB(A); sub-byte grey unpacked with values kept */
    png_color_16p key = NULL;
    int key_alpha = 0; /* add an alpha channel from the tRNS colour key ourselves */
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (trns) png_set_tRNS_to_alpha(png);
    } else if (trns && (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_RGB)) {
        png_bytep ta;
        int nt;
        if (png_get_tRNS(png, pi, &ta, &nt, &key) && key) key_alpha = 1;
    }
    if (depth < 8 && ctype == PNG_COLOR_TYPE_GRAY) png_set_packing(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, pi);
    int ch = png_get_channels(png, pi);
    int od = png_get_bit_depth(png, pi);
    size_t rowbytes = png_get_rowbytes(png, pi);
    if (ch < 1 || ch > 4 || (od != 8 && od != 16) || rowbytes < (size_t)w * ch * (od / 8))
        png_error(png, "unexpected layout after decoding transforms");
    int outc = ch + key_alpha;
    tassl_status s = tassl_io_check_size(name, (int64_t)w * h * outc, opts);
    if (s) {
        png_destroy_read_struct(&png, &pi, NULL);
        return s;
    }
    if ((double)rowbytes * h > (double)tassl_io_byte_limit(opts)) {
        png_destroy_read_struct(&png, &pi, NULL);
        return tassl_error(TASSL_ERR_NOMEM, "%s: %u x %u PNG too large to decode", name, w, h);
    }
    raw = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!raw || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* reads the chunks after IDAT: CRC errors, truncation */

    s = tassl_image_new(img, outc, 1, h, w);
    if (s) {
        free(raw);
        free(rows);
        png_destroy_read_struct(&png, &pi, NULL);
        return tassl_error(s, "%s: %s", name, tassl_last_error());
    }
    int64_t plane = (int64_t)w * h;
    float maxv = (float)((1u << (od == 16 ? 16 : depth < 8 && ctype == PNG_COLOR_TYPE_GRAY ? depth : 8)) - 1);
    for (png_uint_32 y = 0; y < h; y++) { // (C, 1, H, W) from interleaved rows
        const unsigned char *r = rows[y];
        for (png_uint_32 x = 0; x < w; x++) {
            int is_key = key_alpha;
            for (int c = 0; c < ch; c++) {
                size_t k = (size_t)x * ch + c;
                unsigned v = od == 16 ? (unsigned)r[2 * k] << 8 | r[2 * k + 1] : r[k];
                img->data[c * plane + (int64_t)y * w + x] = (float)v;
                if (key_alpha) {
                    unsigned kv = ch == 1 ? key->gray : c == 0 ? key->red : c == 1 ? key->green : key->blue;
                    if (v != kv) is_key = 0;
                }
            }
            if (key_alpha) img->data[ch * plane + (int64_t)y * w + x] = is_key ? 0.0f : maxv;
        }
    }
    free(raw);
    free(rows);
    png_destroy_read_struct(&png, &pi, NULL);
    img->spacing[1] = sh;
    img->spacing[2] = sw;
    img->affine[0][0] = sw;
    img->affine[1][1] = sh;
    tassl_io_copy_path(img->source, sizeof img->source, name);
    s = tassl_io_finish(name, opts, img, info);
    if (s) tassl_image_free(img);
    return s;
}

static tassl_status decode(const unsigned char *buf, size_t len, const char *name,
                           const tassl_read_opts *opts, tassl_image *img, tassl_image_info *info,
                           int header_only) {
    tassl_image_info local;
    return decode_png(buf, len, name, opts, img, info ? info : &local, header_only);
}

tassl_status tassl_png_read_mem(const void *buf, size_t len, const char *name,
                                const tassl_read_opts *opts, tassl_image *img,
                                tassl_image_info *info) {
    memset(img, 0, sizeof *img);
    return decode(buf, len, name, opts, img, info, 0);
}

/* whole file into memory; PNG files are small next to their decoded floats */
static tassl_status slurp(const char *path, unsigned char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (!b) {
            fclose(f);
            return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory reading the file", path);
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap > ((size_t)1 << 32)) {
            free(b);
            fclose(f);
            return tassl_error(TASSL_ERR_NOMEM, "%s: PNG file larger than 4 GiB", path);
        }
        cap *= 2;
        unsigned char *nb = realloc(b, cap);
        if (!nb) free(b);
        b = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return tassl_error(TASSL_ERR_IO, "%s: read error", path);
    }
    *out = b;
    *len = n;
    return TASSL_OK;
}

tassl_status tassl_png_read(const char *path, const tassl_read_opts *opts, tassl_image *img,
                            tassl_image_info *info) {
    memset(img, 0, sizeof *img);
    unsigned char *b;
    size_t n;
    tassl_status s = slurp(path, &b, &n);
    if (s) return s;
    s = decode(b, n, path, opts, img, info, 0);
    free(b);
    return s;
}

tassl_status tassl_io_png_info(const char *path, tassl_image_info *info) {
    unsigned char *b;
    size_t n;
    tassl_status s = slurp(path, &b, &n);
    if (s) return s;
    s = decode(b, n, path, NULL, NULL, info, 1);
    free(b);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                   */

typedef struct png_wctx {
    jmp_buf jb;
    char msg[256];
} png_wctx;

static void on_werror(png_structp png, png_const_charp m) {
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", m ? m : "libpng error");
    longjmp(c->jb, 1);
}

/* libpng part of the writer: the only function with a setjmp, so that no local of the caller
 * can be clobbered. Returns 0 and a message in ctx->msg on failure. */
static int encode(FILE *f, const tassl_image *img, int bit_depth, double lo, double mul,
                  png_wctx *ctx) {
    static const int ctypes[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                  PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    int ch = img->channels, bpp = bit_depth / 8;
    int64_t plane = img->h * img->w;
    double maxv = bit_depth == 16 ? 65535.0 : 255.0;
    unsigned char *row = malloc((size_t)img->w * ch * bpp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, on_werror, on_wwarning);
    png_infop pi = png ? png_create_info_struct(png) : NULL;
    if (!row || !png || !pi || setjmp(ctx->jb)) {
        png_destroy_write_struct(&png, pi ? &pi : NULL);
        free(row);
        if (!ctx->msg[0]) snprintf(ctx->msg, sizeof ctx->msg, "out of memory");
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, pi, (png_uint_32)img->w, (png_uint_32)img->h, bit_depth, ctypes[ch],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    double sw = img->spacing[2], sh = img->spacing[1];
    if (isfinite(sw) && isfinite(sh) && sw > 1e-6 && sh > 1e-6 && sw < 1e6 && sh < 1e6)
        png_set_pHYs(png, pi, (png_uint_32)lround(1000.0 / sw), (png_uint_32)lround(1000.0 / sh),
                     PNG_RESOLUTION_METER);
    png_write_info(png, pi);
    for (int64_t y = 0; y < img->h; y++) {
        for (int64_t x = 0; x < img->w; x++)
            for (int c = 0; c < ch; c++) { // (C, 1, H, W) → interleaved row
                double v = img->data[c * plane + y * img->w + x];
                v = isfinite(v) ? (v - lo) * mul : (isnan(v) ? 0 : v);
                v = v < 0 ? 0 : v > maxv ? maxv : nearbyint(v);
                unsigned u = (unsigned)v;
                size_t k = ((size_t)x * ch + c) * bpp;
                if (bpp == 2) {
                    row[k] = (unsigned char)(u >> 8);
                    row[k + 1] = (unsigned char)(u & 255);
                } else {
                    row[k] = (unsigned char)u;
                }
            }
        png_write_row(png, row);
    }
    png_write_end(png, pi);
    png_destroy_write_struct(&png, &pi);
    free(row);
    return 1;
}

tassl_status tassl_png_write(const char *path, const tassl_image *img, int bit_depth,
                             tassl_png_scale scale) {
    if (bit_depth != 8 && bit_depth != 16)
        return tassl_error(TASSL_ERR_ARG, "%s: PNG bit depth %d (expected 8 or 16)", path, bit_depth);
    if (!img->data || img->d != 1 || img->channels < 1 || img->channels > 4)
        return tassl_error(TASSL_ERR_ARG,
                           "%s: PNG holds a 2D image of 1..4 channels; got %d channels x %lld x "
                           "%lld x %lld",
                           path, img->channels, (long long)img->d, (long long)img->h,
                           (long long)img->w);
    if (img->h > 1000000 || img->w > 1000000)
        return tassl_error(TASSL_ERR_ARG, "%s: %lld x %lld too large for PNG", path,
                           (long long)img->h, (long long)img->w);
    int64_t n = img->h * img->w * img->channels;
    double maxv = bit_depth == 16 ? 65535.0 : 255.0, lo = 0, mul = 1;
    if (scale == TASSL_PNG_SCALE_UNIT) {
        mul = maxv;
    } else if (scale == TASSL_PNG_SCALE_MINMAX) {
        double mn = INFINITY, mx = -INFINITY;
        for (int64_t i = 0; i < n; i++)
            if (isfinite(img->data[i])) {
                if (img->data[i] < mn) mn = img->data[i];
                if (img->data[i] > mx) mx = img->data[i];
            }
        if (isfinite(mn)) lo = mn;
        mul = mx > mn ? maxv / (mx - mn) : 1; /* a constant image → 0 */
    }
    char tmp[1100];
    if (strlen(path) > 1000) return tassl_error(TASSL_ERR_ARG, "%s: path too long", path);
    tassl_io_tmp_name(tmp, sizeof tmp, path, ".png");
    FILE *f = fopen(tmp, "wb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    png_wctx ctx;
    memset(&ctx, 0, sizeof ctx);
    int ok = encode(f, img, bit_depth, lo, mul, &ctx);
    if (ferror(f)) ok = 0;
    int e = errno;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        remove(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: PNG write failed: %s", path,
                           ctx.msg[0] ? ctx.msg : strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        remove(tmp);
        return tassl_error(TASSL_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                           strerror(e));
    }
    return TASSL_OK;
}
