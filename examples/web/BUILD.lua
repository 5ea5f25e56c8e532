-- A small HTTP server built from C and deployed to three stages, each a
-- local process on its own loopback port (see deploy/*.sh). `cairn deploy
-- //web:web` rolls it out: the canary first, then east and west, each
-- followed by the health check; a failure rolls the changed stages back.

local copts = { "-std=c17", "-O2", "-Wall", "-Wextra", "-Wshadow",
  "-Wmissing-prototypes", "-Wstrict-prototypes", "-Wwrite-strings" }

cc_library {
  name = "config",
  srcs = { "config.c" },
  hdrs = { "config.h" },
  copts = copts,
}

cc_library {
  name = "client",
  srcs = { "client.c" },
  hdrs = { "client.h" },
  copts = copts,
}

cc_binary {
  name = "server",
  srcs = { "server.c" },
  deps = { ":config", ":client" },
  copts = copts,
}

-- The configuration is an artifact of its own: changing it makes a new
-- release without rebuilding the server.
filegroup { name = "site_config", srcs = { "site.conf" } }

cc_test {
  name = "server_test",
  srcs = { "server_test.c" },
  deps = { ":config" },
  data = { "site.conf" },
  copts = copts,
}

-- Run by `cairn deploy` against each stage; under a plain `cairn test`
-- (no CAIRN_STAGE, no PORT) it has nothing to check and passes, saying so.
-- It talks to the stage's server on the host's loopback, so it needs the
-- host's network.
cc_test {
  name = "health",
  srcs = { "health.c" },
  deps = { ":client" },
  copts = copts,
  tags = { "requires-network" },
}

-- The deployment: three stages, each a server of its own on a loopback
-- port, run from the release's immutable directory by deploy/apply.sh.
-- The canary goes first, alone; east and west follow together. A release
-- is admitted once server_test passed for it.
deployment {
  name = "web",
  artifacts = { ":server", ":site_config" },
  provider = "command",
  apply = "sh web/deploy/apply.sh",
  read = "sh web/deploy/read.sh",
  destroy = "sh web/deploy/destroy.sh",
  timeout = 30,
  stages = {
    { name = "canary", path = "stages/canary", env = { PORT = "18081" } },
    { name = "east",   path = "stages/east",   env = { PORT = "18082" } },
    { name = "west",   path = "stages/west",   env = { PORT = "18083" } },
  },
  health = ":health",
  canary = 1, max_parallel = 2, bake = 0, interval = 1,
  requires_tests = { ":server_test" },
}
