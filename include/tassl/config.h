/* config.h — typed run configuration: a registry of every key, YAML files, --set overrides.
 *
 * A run is described by one YAML file of nested sections (data, model, method, optim, schedule,
 * train, output) plus the top-level keys `device` and `seed`. Every key that may appear is
 * registered once, with a dotted name ("model.depth"), a type, a default, an optional range or
 * set of allowed values, and a one-line description. Reading a file or a --set override checks
 * every value against the registry: unknown keys, wrong types, out-of-range values and duplicate
 * keys are errors whose message starts with "FILE:LINE:COLUMN:" (or "--set KEY=VALUE:") and, for
 * an unknown key, suggests the closest registered name. The resolved configuration holds every
 * registered key (defaults filled in) and is written back as YAML that reads to the same values.
 *
 * Keys are registered in sections: a `tassl_cfg_section` is a static table of keys (and of extra
 * allowed values for enum keys registered elsewhere, e.g. a new `method.name`) that lives in the
 * layer that uses the keys. Built-in sections are listed in src/config/sections.c; a program or
 * test may add its own at run time with tassl_config_register(). See docs/CONFIG.md.
 */
#ifndef TASSL_CONFIG_H
#define TASSL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tassl_cfg_type {
    TASSL_CFG_INT = 0,     /* 64-bit integer                                          */
    TASSL_CFG_FLOAT,       /* double (an integer literal is accepted)                 */
    TASSL_CFG_BOOL,        /* true/false (also yes/no, on/off)                        */
    TASSL_CFG_STRING,      /* any scalar                                              */
    TASSL_CFG_ENUM,        /* one of the allowed values (a string)                    */
    TASSL_CFG_INT_LIST,    /* sequence of integers: [64, 128] (or "64,128" in --set)  */
    TASSL_CFG_FLOAT_LIST,  /* sequence of floats                                      */
    TASSL_CFG_STRING_LIST, /* sequence of strings                                     */
} tassl_cfg_type;

/* One registered key. All strings are static. */
typedef struct tassl_cfg_key {
    const char *name; /* dotted: "optim.lr"; segments are [a-z0-9_] */
    tassl_cfg_type type;
    const char *def;     /* default, in YAML flow syntax: "10", "0.1", "true", "sgd", "[64, 128]" */
    const char *range;   /* numbers (and list elements): interval "[1, 64]", "(0, inf)", "[0, 1)";
                            NULL = any value. Strings/enums: unused */
    const char *choices; /* ENUM: allowed values "sgd|adamw|lars"; INT: allowed values "10|18|34";
                            NULL otherwise */
    const char *help;    /* one line */
} tassl_cfg_key;

/* Adds allowed values to an ENUM key registered by another section ("method.name" += "simclr"). */
typedef struct tassl_cfg_choice {
    const char *key, *value;
} tassl_cfg_choice;

typedef struct tassl_cfg_section {
    const char *name; /* for messages: "core", "simclr" */
    const tassl_cfg_key *keys;
    int nkeys;
    const tassl_cfg_choice *choices;
    int nchoices;
} tassl_cfg_section;

/* Add a section to the registry (the built-in ones are added on first use). Fails with
 * TASSL_ERR_ARG if a key is already registered, a name is malformed, a default does not pass its
 * own validation, or a choice names a key that is not an ENUM. The section must outlive the
 * program (static storage). Not thread-safe against concurrent config use. */
tassl_status tassl_config_register(const tassl_cfg_section *sec);

/* Registered keys, sorted by name (segment by segment). */
int tassl_config_key_count(void);
const tassl_cfg_key *tassl_config_key_at(int i);
const tassl_cfg_key *tassl_config_key_find(const char *name); /* NULL if unknown */
/* Allowed values of an ENUM (or INT with choices) key, "a|b|c", including added choices. */
const char *tassl_config_key_choices(const tassl_cfg_key *k);
/* "int", "float", "bool", "string", "enum", "list of ints", ... */
const char *tassl_cfg_type_name(tassl_cfg_type t);
/* The registered key closest to `name` by edit distance (for "did you mean"); NULL if none is
 * reasonably close. */
const char *tassl_config_suggest(const char *name);
/* Levenshtein distance of two short names (1000 when either is over 127 characters). */
int tassl_name_distance(const char *a, const char *b);
/* The candidate closest to `name` for a "did you mean": edit distance, where a candidate whose
 * last dotted segment is within 1 edit of name's counts as that distance + 2 (the right key in
 * the wrong section); NULL unless the best distance is at most max(2, strlen(name) / 3). */
const char *tassl_closest_name(const char *name, const char *const *cands, int n);

/* ---- a configuration: every registered key with a value ------------------------------------ */

typedef struct tassl_config tassl_config;

/* All keys at their defaults. */
tassl_status tassl_config_new(tassl_config **out);
void tassl_config_free(tassl_config *c);
tassl_status tassl_config_copy(const tassl_config *c, tassl_config **out);

/* Read a YAML file over c (keys not in the file keep their values). On any error c is left
 * unchanged and the message reads "PATH:LINE:COL: ...". */
tassl_status tassl_config_load_file(tassl_config *c, const char *path);
/* Same for YAML text in memory; `origin` names it in messages. */
tassl_status tassl_config_load_string(tassl_config *c, const char *text, const char *origin);
/* One "KEY=VALUE" override as given to --set; VALUE is a YAML flow scalar or sequence
 * ("18", "adamw", "[64,128]", also "64,128" for list keys). Errors read "--set KEY=VALUE: ...". */
tassl_status tassl_config_set(tassl_config *c, const char *assignment);
/* True if the key was set by a file or --set (not left at its default). */
bool tassl_config_is_set(const tassl_config *c, const char *key);

/* Write every key as nested YAML, one comment per key with its description. Reading the result
 * back gives the same configuration (floats are printed with the fewest digits that round-trip). */
tassl_status tassl_config_write(const tassl_config *c, FILE *out);
/* Atomic: temp file, fsync, rename. */
tassl_status tassl_config_save(const tassl_config *c, const char *path);
/* Same YAML as tassl_config_write, in a malloc'd string (free()). */
char *tassl_config_to_string(const tassl_config *c);
/* True if every key has the same value. */
bool tassl_config_equal(const tassl_config *a, const tassl_config *b);

/* Typed access. The key must be registered with the matching type (ENUM reads as a string):
 * anything else is a programmer error and aborts with the key's name. */
int64_t tassl_config_int(const tassl_config *c, const char *key);
double tassl_config_float(const tassl_config *c, const char *key);
bool tassl_config_bool(const tassl_config *c, const char *key);
const char *tassl_config_str(const tassl_config *c, const char *key); /* STRING or ENUM */
int tassl_config_list_len(const tassl_config *c, const char *key);
int64_t tassl_config_list_int(const tassl_config *c, const char *key, int i);
double tassl_config_list_float(const tassl_config *c, const char *key, int i);
const char *tassl_config_list_str(const tassl_config *c, const char *key, int i);

#ifdef __cplusplus
}
#endif
#endif
