/* atomic.c — atomic file replacement (temp file in the same directory, fsync, rename, fsync of
 * the directory) and the safetensors writer built on it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

char *tassl_path_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

tassl_status tassl_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return tassl_error(TASSL_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* some file systems refuse fsync on directories (EINVAL): the rename itself is still atomic */
    if (rc != 0 && err != EINVAL && err != EROFS)
        return tassl_error(TASSL_ERR_IO, "%s: fsync of the directory failed: %s", dir, strerror(err));
    return TASSL_OK;
}

tassl_status tassl_atomic_open(const char *path, tassl_atomic_file *af) {
    memset(af, 0, sizeof *af);
    size_t len = strlen(path) + 16;
    af->tmp = malloc(len);
    af->path = strdup(path);
    if (!af->tmp || !af->path) {
        free(af->tmp);
        free(af->path);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of host memory", path);
    }
    snprintf(af->tmp, len, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        tassl_status s = tassl_error(TASSL_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                                     path, strerror(errno));
        free(af->tmp);
        free(af->path);
        af->tmp = af->path = NULL;
        return s;
    }
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        unlink(af->tmp);
        free(af->tmp);
        free(af->path);
        af->tmp = af->path = NULL;
        return tassl_error(TASSL_ERR_IO, "%s: fdopen failed", path);
    }
    return TASSL_OK;
}

void tassl_atomic_abort(tassl_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

tassl_status tassl_atomic_commit(tassl_atomic_file *af) {
    tassl_status s = TASSL_OK;
    if (fflush(af->f) != 0 || ferror(af->f))
        s = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    else if (fsync(fileno(af->f)) != 0)
        s = tassl_error(TASSL_ERR_IO, "%s: fsync failed: %s", af->path, strerror(errno));
    int rc = fclose(af->f);
    af->f = NULL;
    if (s == TASSL_OK && rc != 0)
        s = tassl_error(TASSL_ERR_IO, "%s: close failed: %s", af->path, strerror(errno));
    if (s == TASSL_OK && rename(af->tmp, af->path) != 0)
        s = tassl_error(TASSL_ERR_IO, "%s: cannot rename %s over it: %s", af->path, af->tmp,
                        strerror(errno));
    if (s != TASSL_OK) {
        tassl_atomic_abort(af);
        return s;
    }
    char *dir = tassl_path_dir(af->path);
    s = dir ? tassl_fsync_dir(dir) : TASSL_OK;
    free(dir);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
    return s;
}

void tassl_le32(void *p, size_t nwords) {
    const uint16_t one = 1;
    if (*(const uint8_t *)&one == 1) return;
    uint8_t *b = p;
    for (size_t i = 0; i < nwords; i++, b += 4) {
        uint8_t t0 = b[0], t1 = b[1];
        b[0] = b[3];
        b[1] = b[2];
        b[2] = t1;
        b[3] = t0;
    }
}

tassl_status tassl_st_write(const char *path, json_t *root, int n, tassl_st_data_fn data, void *ud) {
    char *js = json_dumps(root, JSON_COMPACT);
    if (!js) return tassl_error(TASSL_ERR_NOMEM, "%s: cannot serialise the header", path);
    size_t len = strlen(js), padded = (len + 7) / 8 * 8;
    tassl_atomic_file af;
    tassl_status s = tassl_atomic_open(path, &af);
    if (s != TASSL_OK) {
        free(js);
        return s;
    }
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    if (fwrite(hdr, 1, 8, af.f) != 8 || fwrite(js, 1, len, af.f) != len ||
        fwrite(spaces, 1, padded - len, af.f) != padded - len)
        s = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    free(js);
    for (int i = 0; s == TASSL_OK && i < n; i++) s = data(ud, i, af.f, path);
    if (s != TASSL_OK) {
        tassl_atomic_abort(&af);
        return s;
    }
    return tassl_atomic_commit(&af);
}
