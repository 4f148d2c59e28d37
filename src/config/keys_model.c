/* keys_model.c — configuration keys of the network (model.*): architecture, depth, width, stem,
 * input channels, normalisation. Architectures added later (unet, vit) add their name to
 * `model.arch` with a tassl_cfg_choice and their own keys (model.vit.*) in their own section. */
#include "cfg.h"

static const tassl_cfg_key keys[] = {
    {"model.arch", TASSL_CFG_ENUM, "resnet", NULL, "resnet", "encoder architecture"},
    {"model.depth", TASSL_CFG_INT, "10", NULL, "10|18|34", "ResNet depth"},
    {"model.width", TASSL_CFG_FLOAT, "1", "(0, 16]", NULL,
     "width multiplier: stage widths are round(width * [64, 128, 256, 512])"},
    {"model.stem", TASSL_CFG_ENUM, "standard", NULL, "standard|small",
     "standard = 7x7 stride-2 conv + max-pool; small = 3x3 stride-1 conv, no pool (small "
     "inputs)"},
    {"model.dims", TASSL_CFG_INT, "2", NULL, "2|3",
     "spatial dimensions: 2 (slices) or 3 (volumes)"},
    {"model.in_channels", TASSL_CFG_INT, "1", "[1, 1024]", NULL, "input image channels"},
    {"model.norm", TASSL_CFG_ENUM, "batch", NULL, "batch|group|instance|none",
     "normalisation layers (batch norm is poor at the small batches 3D forces)"},
    {"model.groups", TASSL_CFG_INT, "32", "[1, 1024]", NULL,
     "groups of group normalisation (reduced to a divisor of the channels)"},
    {"model.zero_init_residual", TASSL_CFG_BOOL, "false", NULL, NULL,
     "start the last norm of each residual block at gamma = 0"},
    {"model.num_classes", TASSL_CFG_INT, "0", "[0, 1000000]", NULL,
     "classifier outputs (0 = the number of classes of the data)"},
};

const tassl_cfg_section tassl_cfg_section_model = {
    .name = "model",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
};
