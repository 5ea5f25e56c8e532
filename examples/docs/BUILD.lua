-- A package that only this workspace's //app may see.
genrule {
  name = "index",
  srcs = { "//app:all_docs" },
  outs = { "index.txt" },
  cmd = "wc -l $(SRCS) | sort > $@",
  visibility = { "//app", "//docs/..." },
}
