/* prelude: the build language's Lua half, embedded into the binary. */
#include "lang/eval_int.h"

__asm__(".section .rodata\n"
        ".global cairn_prelude\n"
        "cairn_prelude:\n"
        ".incbin \"src/lang/prelude.lua\"\n"
        ".byte 0\n"
        ".previous\n");
