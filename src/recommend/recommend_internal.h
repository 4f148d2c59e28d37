/* recommend_internal.h — shared between the files of src/recommend: the memory model (the facts
 * the estimator needs, read from a configuration) and the parsed rule table. */
#ifndef TASSL_RECOMMEND_INTERNAL_H
#define TASSL_RECOMMEND_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "tassl/config.h"
#include "tassl/recommend.h"

/* ---- memory model (memory.c) ---------------------------------------------------------------- */

#define MEM_MAX_MEMBERS 8

typedef enum { MEM_ARCH_RESNET, MEM_ARCH_UNET, MEM_ARCH_VIT } mem_arch;

typedef struct mem_model {
    int dims;
    int64_t in_channels, batch, patch[3]; /* patch: (H, W) or (D, H, W), unused axes 1 */
    mem_arch arch;
    int depth;
    double width;
    bool small_stem, has_norm;
    int unet_levels;
    int64_t unet_base;
    int64_t vit_patch, vit_dim;
    int vit_depth, vit_heads;
    double vit_mlp;
    double mae_ratio;
    int64_t mae_dec_dim;
    int mae_dec_depth, mae_dec_heads;
    bool rotation_all;
    int opt_states; /* optimiser state tensors per parameter */
    const char *members[MEM_MAX_MEMBERS];
    int nmembers;
} mem_model;

tassl_status mem_model_from_config(const tassl_config *c, mem_model *m);
tassl_status mem_estimate(const mem_model *m, tassl_mem_estimate *e);
/* the method's static name if the estimator knows it, else NULL */
const char *mem_method_known(const char *name);

/* ---- rule table (table.c) ------------------------------------------------------------------- */

#define REC_MAX_VALUES 8 /* values of one condition list */
#define REC_MAX_SETS 48  /* fields + config keys one rule sets */

/* A condition on the query; empty lists match anything. */
typedef struct rec_when {
    const char *modality[REC_MAX_VALUES];
    int nmodality;
    const char *task[REC_MAX_VALUES];
    int ntask;
    const char *target[REC_MAX_VALUES];
    int ntarget;
    int dims[2];
    int ndims;
    bool has_fraction, has_count, has_unlabelled;
    double fraction[2]; /* [lo, hi] */
    double count[2];
    double unlabelled[2]; /* images for pretraining [lo, hi]; matches only a known count */
} rec_when;

/* One assignment: a field ("method") or a configuration key (is_key) with YAML flow text. */
typedef struct rec_set {
    const char *name;
    char *value;
    bool is_key;
    int line;
} rec_set;

typedef struct rec_rule {
    char *id, *reason, *source;
    int line, order;
    double priority;
    rec_when when;
    rec_set set[REC_MAX_SETS];
    int nset;
} rec_rule;

struct tassl_rec_table {
    char *origin;
    rec_rule *rules;
    int n;
    char **strings; /* every other string owned by the table */
    int nstrings, capstrings;
};

/* The fields a rule may set (besides `config` keys), their type and the key each maps to. */
typedef enum { REC_T_STRING, REC_T_INT, REC_T_FLOAT, REC_T_LIST, REC_T_BOOL } rec_type;
typedef struct rec_field {
    const char *name;
    rec_type type;
    const char *key; /* the configuration key it sets, or NULL (used by the recommender) */
    const char *help;
} rec_field;
extern const rec_field rec_fields[];
extern const int rec_nfields;
const rec_field *rec_field_find(const char *name);

bool rec_in_set(const char *value, const char *set); /* value ∈ "a|b|c" */

#endif
