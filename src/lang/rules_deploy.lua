-- rules_deploy: the deployment{} rule (SPEC section 7). A deployment's
-- default outputs are its artifacts, so `cairn build` builds them; when
-- the request is a deploy, its analysis also hands C two texts:
--   config  what the release digest covers and the state store keeps,
--           so that status, rollback and reconcile need no build files:
--           the provider and its commands, the stages, the rollout's
--           shape, the health and test labels, the deps;
--   build   what only this build knows: where the rule is, the artifact
--           paths, how to run the health check, the required tests.
-- Both are lines "KEY VALUE"; a value escapes "\" and newlines as "\\"
-- and "\n" (src/deploy/config.c reads them).
local I = ...
local fmt, concat = string.format, table.concat
local attr, make_rule, fail, fail_at, C = I.attr, I.make_rule, I.fail, I.fail_at, I.C
local spairs, is_list, has_nul = I.spairs, I.is_list, I.has_nul

local function esc(s) return (s:gsub("\\", "\\\\"):gsub("\n", "\\n")) end

local PROVIDERS = { dir = true, command = true }
local STAGE_FIELDS = { name = true, path = true, approval = true, env = true }

-- Checks made when the rule is called, so that the error names the
-- BUILD.lua line that called it.
local function check(a, kind)
  local function bad(msg) fail(kind .. ": " .. msg) end
  if not PROVIDERS[a.provider] then
    bad(fmt("unknown provider '%s' (want \"dir\" or \"command\")", tostring(a.provider)))
  end
  if a.provider == "command" then
    if not a.apply or not a.read then bad("provider \"command\" needs 'apply' and 'read' commands") end
  elseif a.apply or a.read or a.destroy then
    bad("'apply', 'read' and 'destroy' go with provider \"command\"")
  end
  local st = a.stages
  if type(st) ~= "table" or not is_list(st) then bad("'stages' must be a list of tables") end
  if #st == 0 then bad("a deployment needs at least one stage") end
  local seen = {}
  for i, s in ipairs(st) do
    if type(s) ~= "table" then bad(fmt("stage %d must be a table", i)) end
    for k in next, s do
      if not STAGE_FIELDS[k] then bad(fmt("stage %d: unknown field '%s'", i, tostring(k))) end
    end
    if type(s.name) ~= "string" or not s.name:match("^[%w_.-]+$") then
      bad(fmt("stage %d: 'name' must be a word of letters, digits, '_', '.' or '-'", i))
    end
    if seen[s.name] then bad(fmt("duplicate stage name '%s' (stages %d and %d)", s.name, seen[s.name], i)) end
    seen[s.name] = i
    if s.path ~= nil and (type(s.path) ~= "string" or s.path == "" or has_nul(s.path)
        or s.path:find("\n", 1, true)) then
      bad(fmt("stage '%s': 'path' must be a path", s.name))
    end
    if a.provider == "dir" and s.path == nil then
      bad(fmt("stage '%s': provider \"dir\" needs a 'path'", s.name))
    end
    if s.approval ~= nil and type(s.approval) ~= "boolean" then
      bad(fmt("stage '%s': 'approval' must be true or false", s.name))
    end
    if s.env ~= nil then
      if type(s.env) ~= "table" then bad(fmt("stage '%s': 'env' must map names to strings", s.name)) end
      for k, v in next, s.env do
        if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") or k:match("^CAIRN_")
            or type(v) ~= "string" or has_nul(v) then
          bad(fmt("stage '%s': 'env' must map names (not CAIRN_*) to strings", s.name))
        end
      end
    end
  end
  local function count(name, lo, hi)
    local v = a[name]
    if v ~= nil and (v < lo or v > hi) then bad(fmt("'%s' must be %d to %d", name, lo, hi)) end
  end
  count("canary", 0, #st)
  count("max_parallel", 1, 1000)
  count("bake", 0, 7 * 86400)
  count("interval", 1, 86400)
  count("keep", 1, 1000)
  count("timeout", 1, 86400)
end

local deployment = make_rule({
  attrs = {
    artifacts = attr.label_list { mandatory = true },
    provider = attr.string { mandatory = true },
    apply = attr.string {}, read = attr.string {}, destroy = attr.string {},
    timeout = attr.int { default = 300 },
    stages = { attr_kind = "raw", mandatory = true },
    health = attr.label {},
    canary = attr.int { default = 1 },
    max_parallel = attr.int { default = 1 },
    bake = attr.int { default = 0 },
    interval = attr.int { default = 10 },
    requires_tests = attr.label_list {},
    deps = attr.label_list {},
    keep = attr.int { default = 10 },
  },
  check = check,
  impl = function(ctx)
    local t = I.current()
    local a, raw = ctx.attr, t.attrs
    local cfg, bld = {}, {}
    local function put(list, k, v) list[#list + 1] = k .. " " .. esc(tostring(v)) end
    put(cfg, "provider", a.provider)
    for _, k in ipairs { "apply", "read", "destroy" } do
      if a[k] then put(cfg, k, a[k]) end
    end
    for _, k in ipairs { "timeout", "canary", "max_parallel", "bake", "interval", "keep" } do
      put(cfg, k, a[k])
    end
    if raw.health then
      local l = I.label_of(raw.health.pkg, raw.health.name)
      local h = I.health(raw.health, t)
      if not h then fail_at(t.loc, fmt("%s: health %s is not a test target", t.label, l)) end
      put(cfg, "health", h.label)
      for _, x in ipairs(h.argv) do put(bld, "health.argv", x) end
      for _, x in ipairs(h.env) do put(bld, "health.env", x) end
      for _, x in ipairs(h.inputs) do put(bld, "health.input", x) end
    end
    for _, l in ipairs(raw.requires_tests or {}) do
      local r = I.require_test(l, t)
      if not r then
        fail_at(t.loc, fmt("%s: requires_tests: %s is not a test target", t.label, I.label_of(l.pkg, l.name)))
      end
      put(cfg, "require", r.label)
      put(bld, "test", fmt("%d %s %s", r.shards, r.base, r.label))
    end
    for _, prov in ipairs(a.deps or {}) do
      if not prov.deployment then
        fail_at(t.loc, fmt("%s: deps: %s is not a deployment", t.label, prov.label))
      end
      put(cfg, "dep", prov.label)
    end
    for _, s in ipairs(raw.stages) do
      put(cfg, "stage", s.name)
      if s.path then put(cfg, "stage.path", s.path) end
      if s.approval then put(cfg, "stage.approval", 1) end
      for k, v in spairs(s.env or {}) do put(cfg, "stage.env", k .. "=" .. v) end
    end
    local names, files = {}, {}
    for _, prov in ipairs(a.artifacts) do
      for _, f in ipairs(prov.files or {}) do
        local base = f.path:match("([^/]+)$")
        if names[base] and names[base] ~= f.path then
          fail_at(t.loc, fmt("%s: two artifacts are named '%s' (%s and %s)", t.label, base,
            names[base], f.path))
        end
        if not names[base] then
          names[base] = f.path
          files[#files + 1] = f
          put(bld, "artifact", base .. " " .. f.path)
        end
      end
    end
    if #files == 0 then fail_at(t.loc, fmt("%s: the artifacts name no files", t.label)) end
    -- a dep's artifacts are built too: it rolls out first
    if I.deploying() then for _, f in ipairs(files) do C.request(f.path) end end
    put(bld, "where", t.loc)
    C.deployment(t.label, concat(cfg, "\n") .. "\n", concat(bld, "\n") .. "\n")
    return { files = files, deployment = true }
  end,
}, "deployment")
I.base.deployment = deployment
