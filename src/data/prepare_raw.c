/* prepare_raw.c — the two real volumes that ship in neither PNG nor NIfTI:
 *   - InVesalius projects (.inv3): a gzip'd tar holding main.plist (shape, spacing, dtype) and
 *     matrix.dat (raw little-endian int16 HU, C order (D, H, W)); read with zlib and a minimal
 *     ustar walker, never unpacked to disk;
 *   - NumPy .npz (imageio's stent.npz): a zip of .npy files; the first member is inflated with
 *     zlib (stored or deflate) and its .npy header parsed (little-endian ints/floats, C order).
 * Both produce a (1, D, H, W) tassl_image with a diagonal affine from the spacing (neither format
 * records the patient orientation). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "data_internal.h"
#include "prepare.h"

/* ---- .inv3 ---------------------------------------------------------------------------------- */

static int64_t octal(const char *s, int n) {
    int64_t v = 0;
    for (int i = 0; i < n && s[i]; i++) {
        if (s[i] == ' ') continue;
        if (s[i] < '0' || s[i] > '7') return -1;
        v = v * 8 + (s[i] - '0');
    }
    return v;
}

/* next numbers after <key>KEY</key>: up to n values of <integer> or <real> */
static int plist_numbers(const char *xml, const char *key, double *v, int n) {
    char k[64];
    snprintf(k, sizeof k, "<key>%s</key>", key);
    const char *p = strstr(xml, k);
    if (!p) return 0;
    p += strlen(k);
    int got = 0;
    while (got < n) {
        const char *a = strstr(p, "<integer>"), *b = strstr(p, "<real>");
        const char *q = a && (!b || a < b) ? a + 9 : (b ? b + 6 : NULL);
        if (!q) break;
        const char *close = strstr(p, "</array>");
        if (close && close < q) break;
        v[got++] = strtod(q, NULL);
        p = q;
    }
    return got;
}

tassl_status prepare_read_inv3(const char *path, tassl_image *img) {
    memset(img, 0, sizeof *img);
    gzFile g = gzopen(path, "rb");
    if (!g) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char hdr[512];
    char *plist = NULL;
    int16_t *raw = NULL;
    int64_t raw_bytes = 0;
    tassl_status st = TASSL_OK;
    for (;;) {
        int r = gzread(g, hdr, 512);
        if (r == 0) break;
        if (r != 512) {
            st = tassl_error(TASSL_ERR_FORMAT, "%s: truncated tar header", path);
            break;
        }
        if (hdr[0] == 0) break; /* end-of-archive block */
        int64_t size = octal(hdr + 124, 12);
        if (size < 0 || size > ((int64_t)1 << 32)) {
            st = tassl_error(TASSL_ERR_FORMAT, "%s: bad tar entry size", path);
            break;
        }
        char name[101];
        memcpy(name, hdr, 100);
        name[100] = 0;
        size_t nl = strlen(name);
        int is_plist = nl >= 10 && !strcmp(name + nl - 10, "main.plist");
        int is_mat = nl >= 10 && !strcmp(name + nl - 10, "matrix.dat");
        int64_t padded = (size + 511) / 512 * 512;
        char *buf = NULL;
        if ((is_plist && size < (1 << 20)) || is_mat) {
            buf = malloc((size_t)size + 1);
            if (!buf) {
                st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            int64_t got = 0;
            while (got < size) {
                int chunk = (int)(size - got > (1 << 30) ? (1 << 30) : size - got);
                int rr = gzread(g, buf + got, (unsigned)chunk);
                if (rr <= 0) break;
                got += rr;
            }
            if (got != size) {
                free(buf);
                st = tassl_error(TASSL_ERR_FORMAT, "%s: truncated entry %s", path, name);
                break;
            }
            buf[size] = 0;
            if (padded > size) gzseek(g, padded - size, SEEK_CUR);
            if (is_plist) {
                free(plist);
                plist = buf;
            } else {
                free(raw);
                raw = (int16_t *)buf;
                raw_bytes = size;
            }
        } else if (gzseek(g, padded, SEEK_CUR) < 0) {
            st = tassl_error(TASSL_ERR_FORMAT, "%s: truncated entry %s", path, name);
            break;
        }
    }
    gzclose(g);
    double shape[3] = {0}, sp[3] = {1, 1, 1};
    if (st == TASSL_OK && (!plist || !raw))
        st = tassl_error(TASSL_ERR_FORMAT, "%s: no %s in the archive (not an InVesalius project?)",
                         path, plist ? "matrix.dat" : "main.plist");
    if (st == TASSL_OK && (plist_numbers(plist, "shape", shape, 3) != 3 || !strstr(plist, "int16")))
        st = tassl_error(TASSL_ERR_FORMAT, "%s: main.plist lacks a 3-number shape or int16 dtype", path);
    if (st == TASSL_OK) {
        plist_numbers(plist, "spacing", sp, 3); /* (x, y, z) */
        int64_t d = (int64_t)shape[0], h = (int64_t)shape[1], w = (int64_t)shape[2];
        if (d < 1 || h < 1 || w < 1 || d * h * w * 2 != raw_bytes)
            st = tassl_error(TASSL_ERR_FORMAT,
                             "%s: matrix.dat has %lld bytes, the shape %lld x %lld x %lld needs %lld",
                             path, (long long)raw_bytes, (long long)d, (long long)h, (long long)w,
                             (long long)(d * h * w * 2));
        else
            st = tassl_image_new(img, 1, d, h, w);
        if (st == TASSL_OK) {
            const unsigned char *b = (const unsigned char *)raw;
            for (int64_t i = 0; i < d * h * w; i++)
                img->data[i] = (float)(int16_t)(uint16_t)(b[2 * i] | (b[2 * i + 1] << 8));
            img->spacing[0] = sp[2], img->spacing[1] = sp[1], img->spacing[2] = sp[0];
            img->affine[0][0] = sp[0], img->affine[1][1] = sp[1], img->affine[2][2] = sp[2];
            snprintf(img->source, sizeof img->source, "%s", path);
        }
    }
    free(plist);
    free(raw);
    return st;
}

/* ---- .npz ----------------------------------------------------------------------------------- */

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

tassl_status prepare_read_npz(const char *path, tassl_image *img) {
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) return tassl_error(TASSL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 22 || n > (1L << 30)) {
        fclose(f);
        return tassl_error(TASSL_ERR_FORMAT, "%s: not a zip file (%ld bytes)", path, n);
    }
    unsigned char *z = malloc((size_t)n);
    if (!z || fread(z, 1, (size_t)n, f) != (size_t)n) {
        free(z);
        fclose(f);
        return tassl_error(TASSL_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    tassl_status st = TASSL_OK;
    unsigned char *npy = NULL;
    /* end of central directory → first central entry → local header → data */
    long eocd = -1;
    for (long i = n - 22; i >= 0 && i >= n - 22 - 65535; i--)
        if (le32(z + i) == 0x06054b50u) {
            eocd = i;
            break;
        }
    uint32_t cd = eocd >= 0 ? le32(z + eocd + 16) : 0;
    if (eocd < 0 || (long)cd + 46 > n || le32(z + cd) != 0x02014b50u)
        st = tassl_error(TASSL_ERR_FORMAT, "%s: no zip central directory", path);
    uint32_t method = 0, csize = 0, usize = 0, loc = 0;
    if (st == TASSL_OK) {
        method = le16(z + cd + 10);
        csize = le32(z + cd + 20);
        usize = le32(z + cd + 24);
        loc = le32(z + cd + 42);
        if ((long)loc + 30 > n || le32(z + loc) != 0x04034b50u)
            st = tassl_error(TASSL_ERR_FORMAT, "%s: bad zip local header", path);
    }
    if (st == TASSL_OK) {
        long data = (long)loc + 30 + le16(z + loc + 26) + le16(z + loc + 28);
        if (data + (long)csize > n || usize > (1u << 31) || usize < 16)
            st = tassl_error(TASSL_ERR_FORMAT, "%s: zip member sizes out of range", path);
        else if (!(npy = malloc(usize)))
            st = tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
        else if (method == 0 && csize == usize)
            memcpy(npy, z + data, usize);
        else if (method == 8) {
            z_stream s;
            memset(&s, 0, sizeof s);
            inflateInit2(&s, -15);
            s.next_in = z + data;
            s.avail_in = csize;
            s.next_out = npy;
            s.avail_out = usize;
            int r = inflate(&s, Z_FINISH);
            inflateEnd(&s);
            if (r != Z_STREAM_END || s.total_out != usize)
                st = tassl_error(TASSL_ERR_FORMAT, "%s: corrupt deflate stream", path);
        } else
            st = tassl_error(TASSL_ERR_UNSUPPORTED, "%s: zip compression method %u", path, method);
    }
    free(z);
    /* .npy: magic, version, header dict, data */
    if (st == TASSL_OK && memcmp(npy, "\x93NUMPY", 6) != 0)
        st = tassl_error(TASSL_ERR_FORMAT, "%s: first member is not a .npy array", path);
    if (st == TASSL_OK) {
        size_t hl = npy[6] == 1 ? le16(npy + 8) : le32(npy + 8), ho = npy[6] == 1 ? 10 : 12;
        if (ho + hl > usize) st = tassl_error(TASSL_ERR_FORMAT, "%s: truncated .npy header", path);
        char hdr[1024];
        snprintf(hdr, sizeof hdr, "%.*s", (int)(hl < 1023 ? hl : 1023), (char *)npy + ho);
        const char *ds = strstr(hdr, "'descr': '"), *sh = strstr(hdr, "'shape': (");
        int64_t dim[3] = {0};
        int nd = 0;
        if (st == TASSL_OK && ds && sh && !strstr(hdr, "'fortran_order': True")) {
            const char *p = sh + 10;
            while (nd < 3) {
                char *e;
                long v = strtol(p, &e, 10);
                if (e == p) break;
                dim[nd++] = v;
                p = e;
                while (*p == ',' || *p == ' ') p++;
            }
        }
        ds = ds ? ds + 10 : "";
        int bytes = 0, kind = 0; /* kind: 'i', 'u', 'f' */
        if (!strncmp(ds, "<i2", 3)) bytes = 2, kind = 'i';
        else if (!strncmp(ds, "<u2", 3)) bytes = 2, kind = 'u';
        else if (!strncmp(ds, "|u1", 3)) bytes = 1, kind = 'u';
        else if (!strncmp(ds, "<i4", 3)) bytes = 4, kind = 'i';
        else if (!strncmp(ds, "<f4", 3)) bytes = 4, kind = 'f';
        if (st == TASSL_OK && (nd != 3 || !bytes || dim[0] < 1 || dim[1] < 1 || dim[2] < 1 ||
                               (size_t)(dim[0] * dim[1] * dim[2] * bytes) + ho + hl > usize))
            st = tassl_error(TASSL_ERR_FORMAT,
                             "%s: expected a 3D C-order array of <i2/<u2/|u1/<i4/<f4 (header: %s)",
                             path, hdr);
        if (st == TASSL_OK) st = tassl_image_new(img, 1, dim[0], dim[1], dim[2]);
        if (st == TASSL_OK) {
            const unsigned char *p = npy + ho + hl;
            for (int64_t i = 0; i < dim[0] * dim[1] * dim[2]; i++, p += bytes) {
                float v;
                if (kind == 'f') {
                    uint32_t u = le32(p);
                    memcpy(&v, &u, 4);
                } else if (bytes == 1) v = p[0];
                else if (bytes == 2) v = kind == 'i' ? (float)(int16_t)le16(p) : (float)le16(p);
                else v = (float)(int32_t)le32(p);
                img->data[i] = v;
            }
            snprintf(img->source, sizeof img->source, "%s", path);
        }
    }
    free(npy);
    if (st != TASSL_OK) tassl_image_free(img);
    return st;
}
