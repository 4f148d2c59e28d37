/* tables.c — every family's case table, in the order selftest runs them. */
#include "check.h"

const tassl_check_table *const tassl_check_tables[] = {
    &tassl_cases_core, &tassl_cases_linalg, &tassl_cases_conv, &tassl_cases_pool,
    &tassl_cases_norm, &tassl_cases_loss,   &tassl_cases_net,
    &tassl_cases_nn,       &tassl_cases_ssl,
};
const int tassl_check_ntables = (int)(sizeof tassl_check_tables / sizeof tassl_check_tables[0]);
