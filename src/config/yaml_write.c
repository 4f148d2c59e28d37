/* yaml_write.c — writing a resolved configuration as nested YAML that reads back to the same
 * values: floats with the fewest digits that round-trip, strings double-quoted when they could be
 * read as anything else, each key followed by its one-line description as a comment. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfg.h"

static void write_float(FILE *out, double x) {
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x) break;
    }
    bool floaty = strpbrk(buf, ".eEn") != NULL; /* n: inf/nan */
    fprintf(out, "%s%s", buf, floaty ? "" : ".0");
}

/* true if s can be written as a plain YAML scalar and read back as the same string */
static bool plain_ok(const char *s) {
    static const char *words[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"};
    if (!*s || !isalpha((unsigned char)*s)) return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.' && *p != '/')
            return false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(s, words[i]) == 0) return false;
    return true;
}

static void write_string(FILE *out, const char *s, bool allow_plain) {
    if (allow_plain && plain_ok(s)) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void write_value(FILE *out, const tassl_cfg_key *k, const cfg_value *v) {
    bool list = cfg_is_list(k->type);
    if (list) fputc('[', out);
    for (int j = 0; j < v->n; j++) {
        if (j) fputs(", ", out);
        switch (k->type) {
        case TASSL_CFG_INT:
        case TASSL_CFG_INT_LIST:
            fprintf(out, "%lld", (long long)v->i[j]);
            break;
        case TASSL_CFG_BOOL:
            fputs(v->i[j] ? "true" : "false", out);
            break;
        case TASSL_CFG_FLOAT:
        case TASSL_CFG_FLOAT_LIST:
            write_float(out, v->f[j]);
            break;
        case TASSL_CFG_ENUM:
            write_string(out, v->s[j], true);
            break;
        default:
            write_string(out, v->s[j], false);
        }
    }
    if (list) fputc(']', out);
}

/* number of leading whole segments two dotted names share, among the first `max` */
static int common_segments(const char *a, const char *b, int max) {
    int n = 0;
    if (max == 0) return 0;
    for (;; a++, b++) {
        if (*a != *b) return n;
        if (*a == '.') {
            if (++n == max) return n;
        }
        if (!*a) return n;
    }
}

tassl_status tassl_config_write(const tassl_config *c, FILE *out) {
    fprintf(out,
            "# tassl %s resolved configuration: every key, defaults filled in.\n"
            "# `tassl config keys` describes them; reading this file back gives the same "
            "run.\n",
            TASSL_VERSION);
    const char *prev = "";
    int prev_sections = 0;
    for (int i = 0; i < c->n; i++) {
        const tassl_cfg_key *k = c->key[i];
        int nsec = 0;
        for (const char *p = k->name; *p; p++)
            nsec += *p == '.';
        int keep = common_segments(prev, k->name, nsec < prev_sections ? nsec : prev_sections);
        if (keep == 0 && (i == 0 || nsec > 0 || prev_sections > 0)) fputc('\n', out);
        /* open the sections this key needs beyond those still open */
        const char *seg = k->name;
        for (int d = 0; d < nsec; d++) {
            const char *dot = strchr(seg, '.');
            if (d >= keep) fprintf(out, "%*s%.*s:\n", 2 * d, "", (int)(dot - seg), seg);
            seg = dot + 1;
        }
        fprintf(out, "%*s%s: ", 2 * nsec, "", seg);
        write_value(out, k, &c->val[i]);
        const char *ch = k->type == TASSL_CFG_ENUM ? cfg_choices(k) : NULL;
        fprintf(out, "  # %s%s%s%s\n", k->help, ch ? " (" : "", ch ? ch : "", ch ? ")" : "");
        prev = k->name;
        prev_sections = nsec;
    }
    return ferror(out) ? tassl_error(TASSL_ERR_IO, "config: write error") : TASSL_OK;
}

char *tassl_config_to_string(const tassl_config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    tassl_status s = tassl_config_write(c, f);
    fclose(f);
    if (s != TASSL_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

tassl_status tassl_config_save(const tassl_config *c, const char *path) {
    char *text = tassl_config_to_string(c);
    if (!text) return tassl_error(TASSL_ERR_NOMEM, "%s: cannot format the configuration", path);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        free(text);
        return tassl_error(TASSL_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    tassl_status s = TASSL_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        s = tassl_error(TASSL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        size_t len = strlen(text), done = 0;
        while (done < len) {
            ssize_t w = write(fd, text + done, len - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            done += (size_t)w;
        }
        if (done < len || fsync(fd) != 0)
            s = tassl_error(TASSL_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        if (close(fd) != 0 && s == TASSL_OK)
            s = tassl_error(TASSL_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
        if (s == TASSL_OK && rename(tmp, path) != 0)
            s = tassl_error(TASSL_ERR_IO, "%s: cannot rename to %s: %s", tmp, path,
                            strerror(errno));
        if (s != TASSL_OK) unlink(tmp);
    }
    free(tmp);
    free(text);
    return s;
}
