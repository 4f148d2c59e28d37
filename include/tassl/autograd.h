/* autograd.h — reverse-mode differentiation over a tape of hand-written backward functions.
 *
 * Every op that produces a tensor from inputs that require gradients (outside a no-grad region)
 * appends a node to the context's tape. tassl_backward() walks the tape from the end and calls
 * each node's backward function, which *accumulates* (+=) into its inputs' .grad. Gradients of
 * parameters land in the parameter set's flat gradient buffer; gradients of activations live in
 * the current scope. SSL code composes ops (two views, stop-gradient, EMA targets) and never
 * writes backward code of its own.
 */
#ifndef TASSL_AUTOGRAD_H
#define TASSL_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seed d(out)/d(out) = 1 (out must have one element) and run the tape backward.
 * Gradients accumulate: call tassl_params_zero_grad() between steps. */
tassl_status tassl_backward(tassl_tensor *out);
/* Same with an explicit upstream gradient of out's shape. */
tassl_status tassl_backward_with(tassl_tensor *out, const tassl_tensor *grad_out);

/* tassl_backward that also gives the forward activations back to the device pool as soon as
 * the last backward function that reads them has run (as PyTorch frees saved tensors), so the
 * activations shrink while the gradients grow instead of the two piling up until the scope
 * ends. Only storage of the current scope that the tape references is released, and only when
 * every node referencing it is reached by this backward; nodes left unreached are marked
 * differentiated, so a second backward through them fails instead of reading freed data.
 * Afterwards the values of every activation of the graph are gone, except out's and those of
 * the nkeep tensors in keep (and tensors sharing their storage): list whatever the caller still
 * reads (loss components, embeddings for monitoring, previews). Gradients, parameters, leaves
 * of enclosing scopes and tensors the tape never saw are untouched. out must have one element. */
tassl_status tassl_backward_release(tassl_tensor *out, int nkeep, tassl_tensor *const *keep);

/* A view of x that shares storage but stops gradients (stop-gradient / sg(·)). */
tassl_tensor *tassl_detach(tassl_tensor *x);

/* Mark a leaf tensor as requiring gradients. */
void tassl_requires_grad_(tassl_tensor *t, bool on);

/* The gradient of t, allocating a zero-filled one if it does not exist yet. */
tassl_tensor *tassl_grad(tassl_tensor *t);

/* Number of nodes on the tape (for tests and diagnostics). */
int tassl_tape_size(const tassl_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
