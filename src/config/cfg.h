/* cfg.h — internals shared by the configuration files: the registry, values and parsing of one
 * scalar against a key's type, range and allowed values. */
#ifndef TASSL_CFG_INTERNAL_H
#define TASSL_CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tassl/config.h"

/* Built-in sections, NULL-terminated (src/config/sections.c). */
extern const tassl_cfg_section *const tassl_cfg_builtin_sections[];

/* A value: scalars are lists of length 1. Numbers/bools in i or f, strings in s (malloc'd). */
typedef struct cfg_value {
    int n;
    int64_t *i; /* INT, INT_LIST, BOOL (0/1) */
    double *f;  /* FLOAT, FLOAT_LIST */
    char **s;   /* STRING, ENUM, STRING_LIST */
} cfg_value;

struct tassl_config {
    int n;                     /* keys, sorted like the registry when the config was made */
    const tassl_cfg_key **key; /* (n) */
    cfg_value *val;            /* (n) */
    bool *set;                 /* (n) given by a file or --set */
};

bool cfg_is_list(tassl_cfg_type t);
void cfg_value_free(cfg_value *v);
bool cfg_value_copy(cfg_value *dst, const cfg_value *src);
bool cfg_value_equal(tassl_cfg_type t, const cfg_value *a, const cfg_value *b);

/* One element of a value from scalar text. `quoted`: the YAML scalar was quoted (a string).
 * `null_plain`: a plain empty/~/null scalar. `idx` >= 0 names the list element in messages.
 * On failure writes "KEY: what was expected" into err and returns false. */
bool cfg_parse_elem(const tassl_cfg_key *k, const char *text, bool quoted, bool null_plain, int idx,
                    cfg_value *v, char *err, size_t errlen);

/* A whole value from YAML flow text ("18", "[64, 128]", "adamw"): defaults and --set values.
 * For list keys a bare "a,b" is read as "[a,b]". */
bool cfg_parse_text(const tassl_cfg_key *k, const char *text, cfg_value *v, char *err,
                    size_t errlen);

/* Index of a key in a config (binary search), -1 if absent. */
int cfg_find(const tassl_config *c, const char *name);
/* true if some registered key starts with "prefix." */
bool cfg_is_section(const char *prefix);
/* Allowed values of a key (with added choices) without initialising the registry. */
const char *cfg_choices(const tassl_cfg_key *k);
/* Registry lookup without the public wrapper's init. */
void cfg_registry_init(void);

#endif
