-- A C library with a generated header (from //lib:version) and a define
-- that reaches everything that depends on it.
genrule {
  name = "greet_config",
  srcs = { "//lib:version" },
  outs = { "config.h" },
  cmd = "cp $< $@",
}

cc_library {
  name = "greet",
  srcs = { "greet.c", ":greet_config" },
  hdrs = { "include/greet.h" },
  includes = { "include" },
  defines = { "GREET_EXCLAIM=1" },
}

cc_test {
  name = "greet_test",
  srcs = { "greet_test.c" },
  deps = { ":greet" },
}
