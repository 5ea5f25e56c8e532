-- A library package: a generated header and a word list.
genrule {
  name = "version",
  srcs = { "VERSION" },
  outs = { "version.h" },
  cmd = "printf '#define VERSION \"%s\"\\n' \"$$(cat $<)\" > $@",
}

genrule {
  name = "words",
  srcs = glob { "*.txt" },
  outs = { "words.sorted" },
  cmd = "sort $(SRCS) > $@",
}
