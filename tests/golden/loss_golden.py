#!/usr/bin/python3
"""loss_golden.py — golden values for tests/test_loss.c, computed by PyTorch.

Every input below is written out literally (no random numbers). For each case the script runs the
PyTorch op (torch.nn.functional, float32 inputs promoted to float64 so the golden values carry no
float32 rounding of their own), backpropagates a fixed upstream gradient (1 for a scalar loss, a
fixed pattern `gy` otherwise), and prints the output, the input gradient and (BCE) the pos_weight
gradient as a C header. The test suite includes the committed header and never needs Python:

    /usr/bin/python3 tests/golden/loss_golden.py > tests/golden/loss_golden.h

(Debian's python3-torch, PyTorch 1.13.)
"""
import torch
import torch.nn.functional as F

KINDS = ["SOFTMAX", "LOG_SOFTMAX", "CE", "BCE", "MSE", "L1", "SMOOTH_L1"]
REDS = {"mean": 0, "sum": 1, "none": 2}

# ---- literal inputs ----------------------------------------------------------------------------
A12 = [-0.88, -1.75, 0.75, -2.14, 0.18, -0.67, -2.21, 0.04, -2.31, -0.33, -2.15, -2.05]
A24 = [-0.38, 1.63, -1.88, -1.38, 0.64, 2.24, 0.39, -0.52, 2.38, -2.27, 1.79, -1.05,
       -1.78, -1.91, -0.96, 1.58, -1.60, 0.41, 0.69, -0.64, 0.24, -2.19, -2.20, -1.47]
B24 = [0.90, -0.36, -0.93, 0.43, -0.23, -1.00, 1.47, 0.99, -1.28, 0.37, 0.13, 1.88,
       1.15, -1.06, 2.40, -1.91, -0.41, 1.29, -1.74, -0.06, -2.30, 0.84, 1.32, 0.37]
C20 = [1.88, -0.93, 0.98, 0.47, 0.40, -0.22, 1.70, 2.22, -0.13, 0.82,
       -2.20, 1.01, 0.74, 2.47, 1.61, -1.08, -0.57, 0.84, -2.39, -0.19]
D24 = [-1.62, -1.34, -1.33, -0.08, 0.45, -1.19, -2.48, -0.41, -0.65, 0.33, 2.27, 0.95,
       0.08, 0.59, 0.88, -2.23, 2.00, 1.40, 1.87, 1.49, -0.54, -0.51, -1.98, 0.67]
E36 = [-2.19, -2.16, -1.46, -1.69, -0.80, -2.24, -2.50, -1.74, -1.99, -0.68, -2.37, 1.87,
       0.57, -1.76, -1.24, -0.76, -0.68, -1.89, 1.74, 2.47, -0.17, -0.08, -2.07, -1.99,
       -0.79, -1.18, 1.64, -1.69, -2.38, 2.25, 0.14, -1.77, 0.22, -2.36, 0.14, 2.39]
F12 = [1.82, 0.98, -1.19, -0.67, -1.66, 1.36, 0.16, 1.40, -0.85, -1.38, 1.56, 2.42]
G12 = [1.76, 1.53, 1.59, 1.20, -1.37, 0.09, -0.72, -2.36, -2.36, -1.10, -1.20, 0.96]
H24 = [2.28, -0.26, 2.19, 2.44, 2.28, -0.68, -1.40, -1.37, -1.52, -1.48, 0.62, 2.00,
       1.70, -0.10, 0.76, 1.50, -2.08, 0.80, 2.05, 1.41, 1.25, -0.11, -1.61, 1.45]
U12 = [0.43, 0.87, 0.83, 0.21, 0.25, 0.29, 0.24, 0.59, 0.26, 0.42, 0.13, 0.91]
U24 = [0.35, 0.46, 0.58, 0.90, 0.42, 0.92, 0.50, 0.53, 0.52, 0.02, 0.44, 0.18,
       0.00, 0.80, 0.17, 0.47, 0.73, 0.56, 0.33, 0.52, 0.56, 0.78, 0.11, 1.00]
# large logits: a naive exp overflows; max subtraction keeps everything finite
BIG8 = [1000.0, -1000.0, 999.0, 0.0, -1000.0, -999.5, -1000.0, 1000.0]
# BCE logits with large magnitudes (log(1 + exp(-|x|)) form must stay exact)
BCE12 = [30.0, -30.0, 0.5, -0.25, 88.0, -88.0, 2.0, -3.5, 0.0, 12.0, -15.0, 1.25]

CW3 = [0.5, 2.0, 1.25]
CW4 = [1.5, 0.75, 2.0, 0.5]
PW4 = [0.5, 2.0, 1.0, 3.0]
PW3 = [2.5, 0.4, 1.5]

# class targets (N) / (N, S...); -100 is PyTorch's default ignore_index
T6 = [2, 0, 3, 1, 3, 0]                  # (6) for (6, 4) logits
T6_IGN = [2, -100, 3, 1, -100, 0]        # with ignored entries
T6_IGN1 = [2, 1, 3, 1, 0, 0]             # ignore_index = 1 (a real class) present
T24 = [0, 2, 1, 1, 0, 2, 2, 2]           # (2, 4) for (2, 3, 4) logits
T24_IGN = [0, 2, -100, 1, 0, 2, -100, 2]
T223 = [0, 1, 2, 2, 1, 0, 1, 1, 2, 0, 0, 2]            # (2, 2, 3) for (2, 3, 2, 3) logits
T223_IGN = [0, 1, -100, 2, 1, 0, 1, -100, 2, 0, 0, 2]
T223_IGN2 = [0, 1, 2, 2, 1, 0, 1, 2, 2, 0, 0, 1]       # ignore_index = 2 present


def case(name, kind, x, xshape, t=None, tshape=None, w=None, wshape=None, red="mean", dim=0,
         ignore=-100, param=0.0):
    return dict(name=name, kind=kind, x=x, xshape=xshape, t=t, tshape=tshape, w=w, wshape=wshape,
                red=red, dim=dim, ignore=ignore, param=param)


CASES = []
# softmax / log-softmax over dim 1 and the last dim of 2D, 4D and 5D inputs
for k in ["SOFTMAX", "LOG_SOFTMAX"]:
    kk = k.lower()
    CASES += [
        case(kk + "_2d_dim1", k, A12, [3, 4], dim=1),
        case(kk + "_2d_dim0", k, A12, [3, 4], dim=0),
        case(kk + "_4d_dim1", k, A24, [2, 3, 2, 2], dim=1),
        case(kk + "_4d_last", k, A24, [2, 3, 2, 2], dim=-1),
        case(kk + "_5d_dim1", k, B24, [1, 2, 2, 2, 3], dim=1),
        case(kk + "_5d_last", k, B24, [1, 2, 2, 2, 3], dim=-1),
        case(kk + "_big", k, BIG8, [2, 4], dim=1),
    ]
# cross-entropy, (N, C)
for r in REDS:
    CASES += [
        case("ce_2d_plain_" + r, "CE", A24, [6, 4], T6, [6], red=r),
        case("ce_2d_all_" + r, "CE", A24, [6, 4], T6_IGN, [6], CW4, [4], red=r, param=0.1),
        case("ce_2d_all_ign1_" + r, "CE", B24, [6, 4], T6_IGN1, [6], CW4, [4], red=r,
             ignore=1, param=0.1),
    ]
CASES += [
    case("ce_2d_weight_mean", "CE", A24, [6, 4], T6, [6], CW4, [4]),
    case("ce_2d_smooth_mean", "CE", A24, [6, 4], T6, [6], param=0.1),
    case("ce_2d_ignore_mean", "CE", A24, [6, 4], T6_IGN, [6]),
    case("ce_2d_smooth_ignore_sum", "CE", D24, [6, 4], T6_IGN, [6], red="sum", param=0.1),
    case("ce_2d_weight_smooth_mean", "CE", D24, [6, 4], T6, [6], CW4, [4], param=0.1),
]
# cross-entropy, (N, C, L) and segmentation-shaped (N, C, H, W)
for r in REDS:
    CASES += [
        case("ce_3d_all_" + r, "CE", H24, [2, 3, 4], T24_IGN, [2, 4], CW3, [3], red=r,
             param=0.1),
        case("ce_4d_plain_" + r, "CE", E36, [2, 3, 2, 3], T223, [2, 2, 3], red=r),
        case("ce_4d_all_" + r, "CE", E36, [2, 3, 2, 3], T223_IGN, [2, 2, 3], CW3, [3], red=r,
             param=0.1),
        case("ce_4d_all_ign2_" + r, "CE", E36, [2, 3, 2, 3], T223_IGN2, [2, 2, 3], CW3, [3],
             red=r, ignore=2, param=0.1),
    ]
CASES += [case("ce_3d_plain_mean", "CE", H24, [2, 3, 4], T24, [2, 4])]
# BCE with logits, with and without pos_weight
for r in REDS:
    CASES += [
        case("bce_" + r, "BCE", BCE12, [3, 4], U12, [3, 4], red=r),
        case("bce_pw_" + r, "BCE", BCE12, [3, 4], U12, [3, 4], PW4, [4], red=r),
        case("bce_4d_pw_" + r, "BCE", H24, [2, 3, 2, 2], U24, [2, 3, 2, 2], PW3, [3, 1, 1],
             red=r),
    ]
# MSE / L1 / smooth L1 (β 1, 0.5 and 0 = L1)
for r in REDS:
    CASES += [
        case("mse_" + r, "MSE", F12, [3, 4], G12, [3, 4], red=r),
        case("mse_3d_" + r, "MSE", C20, [2, 2, 5], A24[:20], [2, 2, 5], red=r),
        case("l1_" + r, "L1", F12, [3, 4], G12, [3, 4], red=r),
        case("smooth_l1_b1_" + r, "SMOOTH_L1", F12, [3, 4], G12, [3, 4], red=r, param=1.0),
        case("smooth_l1_b05_" + r, "SMOOTH_L1", C20, [2, 2, 5], A24[:20], [2, 2, 5], red=r,
             param=0.5),
        case("smooth_l1_b0_" + r, "SMOOTH_L1", F12, [3, 4], G12, [3, 4], red=r, param=0.0),
    ]


def f32(vals, shape):
    """float32 values (as C will hold them), promoted to float64."""
    return torch.tensor(vals, dtype=torch.float32).reshape(shape).double()


def bce_pos_weight_grad(x, t, pw, red, y_ref):
    """PyTorch 1.13 has no derivative for pos_weight; tassl has one. Its golden value comes from
    autograd through the documented formula, which must first reproduce F's loss exactly:
    loss = (1 − t)·x + (1 + (p − 1)·t)·(log(1 + exp(−|x|)) + max(−x, 0))."""
    p = pw.clone().requires_grad_(True)
    loss = (1 - t) * x + (1 + (p - 1) * t) * (torch.log1p(torch.exp(-x.abs())) + (-x).clamp(min=0))
    y = {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[red]()
    assert torch.allclose(y, y_ref, rtol=1e-12, atol=1e-12), "BCE formula differs from PyTorch"

    def grad(gy):
        y.backward(gy)
        return p.grad
    return grad


def run(c):
    x = f32(c["x"], c["xshape"]).requires_grad_(True)
    k, red = c["kind"], c["red"]
    w = gw = None
    if c["w"] is not None:
        w = f32(c["w"], c["wshape"])
    if k == "SOFTMAX":
        y = F.softmax(x, dim=c["dim"])
    elif k == "LOG_SOFTMAX":
        y = F.log_softmax(x, dim=c["dim"])
    elif k == "CE":
        t = torch.tensor(c["t"], dtype=torch.long).reshape(c["tshape"])
        y = F.cross_entropy(x, t, weight=w, ignore_index=c["ignore"], reduction=red,
                            label_smoothing=c["param"])
    else:
        t = f32(c["t"], c["tshape"])
        if k == "BCE":
            y = F.binary_cross_entropy_with_logits(x, t, pos_weight=w, reduction=red)
            if w is not None:
                gw = bce_pos_weight_grad(x.detach(), t, w, red, y.detach())
        elif k == "MSE":
            y = F.mse_loss(x, t, reduction=red)
        elif k == "L1":
            y = F.l1_loss(x, t, reduction=red)
        else:
            y = F.smooth_l1_loss(x, t, reduction=red, beta=c["param"])
    n = y.numel()
    # fixed upstream gradient: 1 for a scalar, a simple non-uniform pattern otherwise
    gy = torch.ones_like(y) if y.dim() == 0 else \
        torch.tensor([0.5 + 0.25 * (i % 5) - 0.125 * (i % 3) for i in range(n)],
                     dtype=torch.float32).double().reshape(y.shape)
    y.backward(gy)
    if gw is not None:
        gw = gw(gy)
    return y.detach(), gy, x.grad, gw


def arr(name, vals):
    body = ", ".join("%.9g" % float(v) for v in vals)
    return "static const float %s[] = {%s};\n" % (name, body)


def cfloat(v):
    """A C float literal: 0.1 → 0.100000001f, 1 → 1.0f."""
    s = "%.9g" % float(v)
    return s + ("f" if any(ch in s for ch in ".e") else ".0f")


def dims(shape):
    s = list(shape) + [0] * (5 - len(shape))
    return "%d, {%s}" % (len(shape), ", ".join(str(v) for v in s))


def main():
    out = []
    out.append("/* loss_golden.h — GENERATED by tests/golden/loss_golden.py with PyTorch %s; do not\n"
               " * edit. Inputs, outputs and input gradients of the softmax and loss ops, computed by\n"
               " * torch.nn.functional (float64 from float32 inputs). Shapes: up to 5 dims, 0 = absent\n"
               " * for t/w. Upstream gradient gy (1 for scalar losses). */\n" % torch.__version__)
    out.append("#ifndef LOSS_GOLDEN_H\n#define LOSS_GOLDEN_H\n\n#include <stdint.h>\n\n")
    out.append("enum { %s };\n" % ", ".join("LG_" + k for k in KINDS))
    out.append("enum { LG_MEAN, LG_SUM, LG_NONE };\n\n")
    out.append("typedef struct loss_golden {\n"
               "    const char *name;\n"
               "    int kind, red, dim, ignore;\n"
               "    float param;             /* label smoothing (CE) or beta (smooth L1) */\n"
               "    int xnd; int64_t xshape[5];\n"
               "    int tnd; int64_t tshape[5]; /* target (CE: class indices as floats) */\n"
               "    int wnd; int64_t wshape[5]; /* CE weight or BCE pos_weight */\n"
               "    int ynd; int64_t yshape[5];\n"
               "    const float *x, *t, *w, *y, *gy, *gx, *gw;\n"
               "} loss_golden;\n\n")
    rows = []
    for i, c in enumerate(CASES):
        y, gy, gx, gw = run(c)
        p = "lg%d_" % i
        out.append("/* %s */\n" % c["name"])
        out.append(arr(p + "x", c["x"]))
        if c["t"] is not None:
            out.append(arr(p + "t", c["t"]))
        if c["w"] is not None:
            out.append(arr(p + "w", c["w"]))
        out.append(arr(p + "y", y.flatten().tolist()))
        out.append(arr(p + "gy", gy.flatten().tolist()))
        out.append(arr(p + "gx", gx.flatten().tolist()))
        if gw is not None:
            out.append(arr(p + "gw", gw.flatten().tolist()))
        tsh = c["tshape"] if c["t"] is not None else []
        wsh = c["wshape"] if c["w"] is not None else []
        rows.append('    {"%s", LG_%s, LG_%s, %d, %d, %s, %s, %s, %s, %s,\n'
                    "     %s, %s, %s, %s, %s, %s, %s},\n" % (
                        c["name"], c["kind"], c["red"].upper(), c["dim"], c["ignore"],
                        cfloat(c["param"]), dims(c["xshape"]), dims(tsh), dims(wsh), dims(list(y.shape)),
                        p + "x", p + "t" if c["t"] is not None else "0",
                        p + "w" if c["w"] is not None else "0", p + "y", p + "gy", p + "gx",
                        p + "gw" if gw is not None else "0"))
    out.append("\nstatic const loss_golden loss_golden_cases[] = {\n")
    out.extend(rows)
    out.append("};\n#define LOSS_GOLDEN_COUNT %d\n\n#endif\n" % len(CASES))
    print("".join(out), end="")


if __name__ == "__main__":
    main()
