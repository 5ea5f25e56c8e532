-- An application package using outputs of //lib and the stamp rules.
local stamp = load("//rules/stamp.lua")

genrule {
  name = "report",
  srcs = { "//lib:version", "//lib:words" },
  outs = { "report.txt" },
  cmd = "cat $(location //lib:version) $(location //lib:words) > $@",
}

stamp.stamp { name = "banner", srcs = { "banner.in", ":report" } }

stamp.stamped_pair { name = "pair", srcs = { "banner.in" } }

filegroup { name = "all_docs", srcs = { ":banner", ":pair_b" } }
