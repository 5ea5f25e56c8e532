sh_test {
  name = "hello_runs",
  srcs = { "hello_runs.sh" },
  data = { "//c/app:hello" },
  args = { "cairn-out/c/app/hello" },
}
