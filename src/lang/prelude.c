/* prelude: the build language's Lua half (prelude.lua) and the built-in
 * C rules (rules_cc.lua) and deployment{} (rules_deploy.lua), embedded into the binary. */
#include "lang/eval_int.h"

__asm__(".section .rodata\n"
        ".global cairn_prelude\n"
        "cairn_prelude:\n"
        ".incbin \"src/lang/prelude.lua\"\n"
        ".byte 0\n"
        ".global cairn_rules_cc\n"
        "cairn_rules_cc:\n"
        ".incbin \"src/lang/rules_cc.lua\"\n"
        ".byte 0\n"
        ".global cairn_rules_deploy\n"
        "cairn_rules_deploy:\n"
        ".incbin \"src/lang/rules_deploy.lua\"\n"
        ".byte 0\n"
        ".previous\n");
