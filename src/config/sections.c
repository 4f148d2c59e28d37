/* sections.c — the built-in configuration sections, registered on first use of the registry.
 * A layer that adds keys defines `const tassl_cfg_section tassl_cfg_section_<name>` in its own
 * folder and adds one line here and to the extern list (see docs/CONFIG.md). */
#include "cfg.h"

extern const tassl_cfg_section tassl_cfg_section_core, tassl_cfg_section_model,
    tassl_cfg_section_optim;

const tassl_cfg_section *const tassl_cfg_builtin_sections[] = {
    &tassl_cfg_section_core,
    &tassl_cfg_section_model,
    &tassl_cfg_section_optim,
    NULL,
};
