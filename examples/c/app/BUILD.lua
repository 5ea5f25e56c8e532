cc_binary {
  name = "hello",
  srcs = { "main.c" },
  deps = { "//c/greet" },
}
