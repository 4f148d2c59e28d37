/* tassl.h — task-aligned self-supervised learning for medical images: the public API. */
#ifndef TASSL_H
#define TASSL_H

#include "status.h"
#include "device.h"
#include "tensor.h"
#include "autograd.h"
#include "ops.h"
#include "nn.h"
#include "image.h"
#include "io.h"
#include "augment.h"
#include "dataset.h"
#include "optim.h"
#include "ssl_loss.h"
#include "ssl.h"
#include "checkpoint.h"
#include "config.h"
#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif
/* "0.1.0" */
const char *tassl_version(void);
#ifdef __cplusplus
}
#endif
#endif
