-- The zstd command line tool, as build/cmake/programs/CMakeLists.txt makes
-- its target `zstd` (static link with libzstd, no zlib, lzma or lz4).

local srcs = glob { "*.h" }
for _, f in ipairs {
  "zstdcli.c", "util.c", "timefn.c", "fileio.c", "fileio_asyncio.c",
  "benchfn.c", "benchzstd.c", "datagen.c", "dibio.c", "zstdcli_trace.c",
} do
  srcs[#srcs + 1] = f
end

cc_binary {
  name = "zstd",
  srcs = srcs,
  deps = { "//lib:zstd" },
  includes = { "." },
  copts = {
    -- CMake's include directories for the programs, beyond the library's
    "-Ilib/compress", "-Ilib/dictBuilder",
    "-Wall", "-Wextra", "-Wundef", "-Wshadow", "-Wcast-align", "-Wcast-qual",
    "-Wstrict-prototypes", "-Wa,--noexecstack", "-O3", "-DNDEBUG",
  },
  linkopts = { "-Wl,-z,noexecstack" },
}
