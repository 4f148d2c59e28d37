/* rec_result.h — the recommendation's storage, shared by recommend.c (building it) and output.c
 * (printing it, writing the config file). Items point into the rule table or into `owned`. */
#ifndef TASSL_REC_RESULT_H
#define TASSL_REC_RESULT_H

#include "recommend_internal.h"

#define REC_MAX_ITEMS 128
#define REC_MAX_NOTES 32
#define REC_MAX_MATCHED 128
#define REC_MAX_OWNED 16
#define REC_OWNED_LEN 640

struct tassl_recommendation {
    tassl_rec_query q; /* strings below are copies */
    char modality[32], task[32], target[32], data[512];
    const char *origin;                  /* the table's path */
    tassl_rec_item items[REC_MAX_ITEMS]; /* fields and configuration keys, in order set */
    int nitems;
    tassl_rec_item notes[REC_MAX_NOTES];
    int nnotes;
    const char *matched[REC_MAX_MATCHED];
    int nmatched;
    char owned[REC_MAX_OWNED][REC_OWNED_LEN];
    int nowned;
    tassl_mem_estimate mem;
    bool below_min;
};

#endif
