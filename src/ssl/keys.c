/* keys.c — configuration keys of the pretraining framework: the data side (data.path, data.patch,
 * data.aug.*), the collapse monitor and previews (ssl.*), the hybrid (method.hybrid.*) and the
 * architectures an SSL encoder may be besides the ResNet (model.vit.*, model.unet.*). Methods
 * register their own keys from their own files (tassl_ssl_method.keys). */
#include "ssl_internal.h"

static const tassl_cfg_key keys[] = {
    {"data.path", TASSL_CFG_STRING, "", NULL, NULL,
     "data.source manifest: the CSV manifest; folder: the folder scanned for images"},
    {"data.split", TASSL_CFG_ENUM, "all", NULL, "all|train|val|test",
     "use only the manifest records of this split (all = every record)"},
    {"data.patch", TASSL_CFG_INT_LIST, "[64]", "[1, 65536]", NULL,
     "sample size: [H, W] (2D) or [D, H, W] (3D); one value = the same on every axis"},
    {"data.axis", TASSL_CFG_INT, "0", "[0, 2]", NULL,
     "2D samples from volumes: slice across 0 = D (axial), 1 = H, 2 = W"},
    {"data.samples_per_image", TASSL_CFG_INT, "1", "[1, 1e6]", NULL,
     "samples drawn from each image per epoch"},
    {"data.threads", TASSL_CFG_INT, "2", "[0, 256]", NULL,
     "host threads preparing a batch (0 = the training thread)"},
    {"data.aug.preset", TASSL_CFG_ENUM, "mri", NULL, "none|ct|mri|xray|ultrasound|histology|fundus",
     "modality preset: normalisation + augmentation of the views (docs/MODALITIES.md)"},
    {"data.aug.set", TASSL_CFG_STRING_LIST, "[\"crop=resized\", \"crop_scale=0.3,1\"]", NULL, NULL,
     "augmentation fields overriding the preset for the views, as \"field=value\" "
     "(see augment.h's field table)"},

    {"ssl.monitor_every", TASSL_CFG_INT, "10", "[0, 1e12]", NULL,
     "collapse monitor every N steps: std and effective rank of the embeddings (0 = off)"},
    {"ssl.collapse_min_std", TASSL_CFG_FLOAT, "0.1", "[0, 10]", NULL,
     "warn when std * sqrt(dim) of the normalised embeddings falls below this (healthy ~1)"},
    {"ssl.collapse_min_rank", TASSL_CFG_FLOAT, "1.5", "[0, 1e6]", NULL,
     "warn when the effective rank of the embeddings falls below this"},
    {"ssl.preview_every", TASSL_CFG_INT, "100", "[0, 1e12]", NULL,
     "generative methods: write preview PNGs (input, corrupted, reconstruction) every N steps"},

    {"method.hybrid.members", TASSL_CFG_STRING_LIST, "[]", NULL, NULL,
     "hybrid: the member methods sharing the encoder, e.g. [simclr, genesis]"},
    {"method.hybrid.weights", TASSL_CFG_FLOAT_LIST, "[]", "[0, 1e6]", NULL,
     "hybrid: loss weight of each member (empty = 1 each)"},

    {"model.vit.patch", TASSL_CFG_INT, "8", "[1, 1024]", NULL,
     "ViT patch side (divides data.patch)"},
    {"model.vit.dim", TASSL_CFG_INT, "192", "[1, 65536]", NULL, "ViT token width"},
    {"model.vit.depth", TASSL_CFG_INT, "6", "[1, 256]", NULL, "ViT transformer blocks"},
    {"model.vit.heads", TASSL_CFG_INT, "3", "[1, 1024]", NULL, "ViT attention heads"},
    {"model.vit.mlp_ratio", TASSL_CFG_FLOAT, "4", "(0, 64]", NULL, "ViT MLP hidden width / dim"},
    {"model.vit.cls_token", TASSL_CFG_BOOL, "true", NULL, NULL,
     "ViT cls token (the embedding); false = mean of the patch tokens"},
    {"model.vit.pos", TASSL_CFG_ENUM, "sincos", NULL, "sincos|learned",
     "ViT position embedding: fixed sin-cos (MAE) or learned"},
    {"model.unet.levels", TASSL_CFG_INT, "4", "[2, 8]", NULL, "U-Net resolution levels"},
    {"model.unet.base", TASSL_CFG_INT, "32", "[1, 4096]", NULL,
     "U-Net channels of level 0 (doubled per level)"},
};

static const tassl_cfg_choice choices[] = {
    {"data.source", "manifest"}, {"data.source", "folder"}, {"method.name", "hybrid"},
    {"model.arch", "vit"},       {"model.arch", "unet"},
};

const tassl_cfg_section tassl_cfg_section_ssl = {
    .name = "ssl",
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .choices = choices,
    .nchoices = (int)(sizeof choices / sizeof choices[0]),
};
