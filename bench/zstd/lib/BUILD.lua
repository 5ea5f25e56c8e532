-- libzstd, static, as zstd's own build/cmake/lib/CMakeLists.txt makes
-- libzstd_static in a Release build: the same sources (legacy formats
-- v0.1 to v0.7 included, and the x86-64 Huffman decoder in assembly),
-- defines, include directories and flags, so that both tools run the
-- same compiles (bench/README.md, "zstd").

-- CMake's Release flags for C: its warnings (AddZstdCompilationFlags.cmake)
-- and CMAKE_C_FLAGS_RELEASE; -fPIC, as libzstd_static has
-- POSITION_INDEPENDENT_CODE on.
local copts = {
  "-Wall", "-Wextra", "-Wundef", "-Wshadow", "-Wcast-align", "-Wcast-qual",
  "-Wstrict-prototypes", "-Wa,--noexecstack", "-O3", "-DNDEBUG", "-fPIC",
}

cc_library {
  name = "zstd",
  srcs = glob {
    "common/*.c", "compress/*.c", "decompress/*.c", "decompress/*.S",
    "dictBuilder/*.c", "legacy/zstd_v0[1-7].c",
    "compress/*.h", "decompress/*.h", "dictBuilder/*.h", "legacy/*.h",
  },
  -- the CLI includes internal headers of common/ (mem.h, threading.h, ...)
  hdrs = glob { "*.h", "common/*.h" },
  -- CMake sets these for the whole project (ZSTD_LEGACY_SUPPORT=5 and
  -- ZSTD_MULTITHREAD_SUPPORT are its defaults), so the CLI gets them too
  defines = { "XXH_NAMESPACE=ZSTD_", "ZSTD_LEGACY_SUPPORT=5", "ZSTD_MULTITHREAD" },
  includes = { ".", "common", "legacy" },
  copts = copts,
}
