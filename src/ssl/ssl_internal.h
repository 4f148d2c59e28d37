/* ssl_internal.h — what the files of src/ssl share: the framework instance (members, data side,
 * host staging buffers) and the data side's entry points. Not installed. */
#ifndef TASSL_SSL_INTERNAL_H
#define TASSL_SSL_INTERNAL_H

#include "tassl/augment.h"
#include "tassl/dataset.h"
#include "tassl/ssl.h"

extern const tassl_cfg_section tassl_cfg_section_ssl;

/* one member of the method set (a single method is a set of one) */
typedef struct ssl_member {
    const tassl_ssl_method *m;
    void *state;
    char prefix[64]; /* "" alone, "<name>." in a hybrid */
    float weight;
    tassl_ssl_inputs in;
    int custom_base; /* index of its first custom input among all members' */
    char comp_name[TASSL_SSL_MAX_COMPONENTS][96];
} ssl_member;

typedef enum ssl_source { SSL_SRC_SYNTHETIC = 0, SSL_SRC_DATASET } ssl_source;

/* the data side: where samples come from and how they become inputs */
typedef struct ssl_data {
    ssl_source source;
    uint64_t seed;          /* data seed (the run's seed, mixed) */
    tassl_synth_opts synth; /* SYNTHETIC */
    int64_t synth_train;    /* data.synthetic.train_size (0 = endless) */
    tassl_dataset *ds;      /* DATASET */
    int64_t ds_len;
    int64_t perm_epoch[2]; /* two cached epoch permutations (a batch may straddle two) */
    int64_t *perm[2];
    tassl_aug_config view_cfg, clean_cfg;
    int threads;
    /* host staging, (B, ∏ sample) floats each */
    float *view[TASSL_SSL_MAX_VIEWS];
    float *clean;
    float *custom[TASSL_SSL_MAX_MEMBERS * TASSL_SSL_MAX_CUSTOM];
    int64_t custom_numel[TASSL_SSL_MAX_MEMBERS * TASSL_SSL_MAX_CUSTOM];
    int ncustom;
} ssl_data;

struct tassl_ssl {
    tassl_ssl_env env;
    tassl_encoder *enc;
    int nmembers;
    ssl_member mem[TASSL_SSL_MAX_MEMBERS];
    tassl_ssl_inputs all; /* union */
    ssl_data data;
    int64_t sample_numel;
};

/* data.c */
/* Open the source the config names and find the sample shape (C, D, H, W). */
tassl_status ssl_data_open(ssl_data *d, const tassl_config *cfg, int dims, int64_t sample[4]);
/* Allocate staging for the union of inputs (after the members' create). */
tassl_status ssl_data_alloc(tassl_ssl *s);
void ssl_data_close(ssl_data *d);
/* Prepare step `step`'s samples on the host (into d's staging). */
tassl_status ssl_data_fill(tassl_ssl *s, int64_t step);

/* views.c — shared by the two-view joint-embedding methods */
/* Both views through the encoder (training mode) and `proj` in one pass: (2N, P), view 1 rows
 * first; *x (if not NULL) gets the concatenated input (2N, C, S...). */
tassl_tensor *ssl_two_view_project(const tassl_ssl_env *env, tassl_mlp *proj,
                                   const tassl_ssl_batch *b, tassl_tensor **x);
/* (2N, P) → the two (N, P) halves (views). */
void ssl_split_views(tassl_tensor *z, int64_t n, tassl_tensor **z1, tassl_tensor **z2);
/* The 3-layer batch-normalised projector of Barlow Twins / VICReg under PREFIX"projector", sized
 * by method.<method>.proj_dim / proj_hidden (0: 4 × the encoder's embedding). */
tassl_status ssl_wide_projector_new(const tassl_ssl_env *env, const char *prefix,
                                    const char *method, tassl_mlp **out);

/* methods.c */
/* The last error again with a printf-style prefix: "PREFIX: previous message" (the previous
 * message is copied first: tassl_error must not read the buffer it writes). */
tassl_status ssl_wrap(tassl_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
extern const tassl_ssl_method tassl_ssl_simclr;
extern const tassl_ssl_method tassl_ssl_moco;
extern const tassl_ssl_method tassl_ssl_byol;
extern const tassl_ssl_method tassl_ssl_simsiam;
extern const tassl_ssl_method tassl_ssl_barlow;
extern const tassl_ssl_method tassl_ssl_vicreg;
extern const tassl_ssl_method tassl_ssl_rotation;
extern const tassl_ssl_method tassl_ssl_jigsaw;
extern const tassl_ssl_method tassl_ssl_rpl;
extern const tassl_ssl_method tassl_ssl_denoising;
extern const tassl_ssl_method tassl_ssl_inpainting;
extern const tassl_ssl_method tassl_ssl_genesis;
extern const tassl_ssl_method tassl_ssl_simmim;
extern const tassl_ssl_method tassl_ssl_mae;
extern const tassl_ssl_method tassl_ssl_anomaly;

#endif
