-- prelude: the build language. Runs once per cairn process, before any
-- build file, with the C primitives of bind.c as its argument; returns the
-- entry points that eval.c calls.
--
-- Invariants:
--  * Build files and modules never see _G: each runs in its own env table
--    whose __index is `base`, a table of safe functions and the rules.
--  * Evaluation is deterministic: `pairs` visits keys in sorted order, and
--    every list the prelude builds from a table is sorted first.
--  * Loading (running BUILD.lua) only records targets; analysis (running
--    rule impls) happens afterwards, per requested target, depth first,
--    memoized, with a stack of labels for cycle detection.
--  * Every error goes through C.fail (location taken from the innermost
--    user frame on the Lua stack) or C.fail_at (explicit location).
--  * No string handed to C as data holds a NUL byte (C would see it cut
--    short): attributes are checked where the rule is called, and C checks
--    again whatever reaches it.
local C, rules_cc, rules_deploy = ...

local sort, concat = table.sort, table.concat
local fail, fail_at = C.fail, C.fail_at
local fmt = string.format

---------------------------------------------------------------- helpers
local function keycmp(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function sorted_keys(t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  sort(keys, keycmp)
  return keys
end

-- pairs in sorted key order: the same files give the same graph.
local function spairs(t)
  local keys, i = sorted_keys(t), 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then return k, t[k] end
  end, t, nil
end

local function is_list(v)
  if type(v) ~= "table" then return false end
  local n = #v
  for k in next, v do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function join_path(pkg, name)
  if pkg == "" then return name end
  return pkg .. "/" .. name
end

local function label_of(pkg, name) return "//" .. pkg .. ":" .. name end

local function has_nul(s) return s:find("\0", 1, true) ~= nil end

-- Quote a path for /bin/sh only when it needs it.
local function shq(s)
  if s:match("^[%w%._/%-%+=,@]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

---------------------------------------------------------------- files
local FileMT = { __name = "File" }
FileMT.__index = FileMT
FileMT.__tostring = function(f) return "File(" .. f.path .. ")" end
local function is_file(v) return getmetatable(v) == FileMT end

-- One File per source path while anything holds it (weak: at 10k sources
-- the table kept every one alive to the end, 1.9 MB)
local source_files = setmetatable({}, { __mode = "v" })
local function source_file(path)
  local f = source_files[path]
  if not f then
    f = setmetatable({ path = path, short_path = path, is_source = true }, FileMT)
    source_files[path] = f
  end
  return f
end

---------------------------------------------------------------- the sandbox
local forbidden = {
  io = true, os = true, require = true, dofile = true, loadfile = true,
  debug = true, package = true, collectgarbage = true, loadstring = true,
}

local base = {}
for _, n in ipairs { "assert", "error", "ipairs", "next", "pcall", "select",
  "tonumber", "tostring", "type", "rawequal", "rawget", "rawlen", "rawset",
  "setmetatable", "getmetatable", "xpcall" } do
  base[n] = _G[n]
end
base._VERSION = _VERSION
local getmt = debug.getmetatable
base.pairs = function(t)
  local mt = getmt(t)
  if mt and mt.__pairs then return mt.__pairs(t) end
  return spairs(t)
end
-- A read-only view of a table: build files share these, so none may
-- change them for the others.
local function readonly(t, what)
  return setmetatable({}, {
    __index = t,
    __newindex = function(_, k) fail(fmt("%s is read-only (cannot set '%s')", what, tostring(k))) end,
    __pairs = function() return spairs(t) end,
    __metatable = false,
  })
end
local function copy_lib(lib, drop, what)
  local t = {}
  for k, v in next, lib do if not drop[k] then t[k] = v end end
  return readonly(t, what)
end
base.string = copy_lib(string, { dump = true }, "string")
base.table = copy_lib(table, {}, "table")
base.math = copy_lib(math, { random = true, randomseed = true }, "math")
base.utf8 = copy_lib(utf8, {}, "utf8")
-- Hide the shared string metatable so no file can change another's strings.
getmetatable("").__metatable = false

local env_mt = {
  __index = function(_, k)
    local v = base[k]
    if v ~= nil then return v end
    if forbidden[k] then
      fail(fmt("'%s' is not available in build files (they are sandboxed)", tostring(k)))
    end
    return nil
  end,
}
local function new_env() return setmetatable({}, env_mt) end

base.print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  C.print(concat(parts, " "))
end
base.fail = function(msg) fail(tostring(msg)) end

---------------------------------------------------------------- attributes
local attr_kinds = { "string", "int", "bool", "string_list", "label",
  "label_list", "string_dict" }
local attr = {}
local function make_attr(kind)
  return function(opts)
    opts = opts or {}
    if type(opts) ~= "table" then fail("attr." .. kind .. " takes a table") end
    for k in next, opts do
      if k ~= "default" and k ~= "mandatory" then
        fail(fmt("attr.%s: unknown option '%s'", kind, tostring(k)))
      end
    end
    return { attr_kind = kind, default = opts.default, mandatory = opts.mandatory and true or false }
  end
end
for _, k in ipairs(attr_kinds) do attr[k] = make_attr(k) end
base.attr = readonly(attr, "attr")
-- internal: names of files a target will write (genrule outs)
local output_list = { attr_kind = "output_list", mandatory = true }

---------------------------------------------------------------- packages
local cur_pkg = nil      -- package whose BUILD.lua is being evaluated
local packages = {}      -- pkg -> { name, targets, order, outputs }

local function parse_label(s, pkg, what)
  local p, n = C.parse_label(s, pkg)
  if not p then fail(fmt("bad label '%s' in %s: %s", s, what, n)) end
  return { pkg = p, name = n }
end

local function type_error(kind, name, want, v)
  fail(fmt("%s: attribute '%s' must be %s, got %s", kind, name, want, type(v)))
end

local function check_list(kind, name, v, want)
  if not is_list(v) then type_error(kind, name, "a list of " .. want .. "s", v) end
  for i, x in ipairs(v) do
    if type(x) ~= "string" then
      fail(fmt("%s: attribute '%s' must be a list of %ss, element %d is a %s",
        kind, name, want, i, type(x)))
    end
    if has_nul(x) then
      fail(fmt("%s: attribute '%s': element %d contains a NUL byte", kind, name, i))
    end
  end
end

-- Check a value against an attribute type; returns the stored form.
local function check_attr(kind, name, a, v)
  local k = a.attr_kind
  if k == "string" then
    if type(v) ~= "string" then type_error(kind, name, "a string", v) end
    if has_nul(v) then fail(fmt("%s: attribute '%s' contains a NUL byte", kind, name)) end
    return v
  elseif k == "int" then
    if math.type(v) ~= "integer" then type_error(kind, name, "an integer", v) end
    return v
  elseif k == "bool" then
    if type(v) ~= "boolean" then type_error(kind, name, "a boolean", v) end
    return v
  elseif k == "string_list" or k == "output_list" then
    check_list(kind, name, v, "string")
    local out = {}
    for i, x in ipairs(v) do out[i] = x end
    if k == "output_list" then
      for _, x in ipairs(out) do
        local ok, why = C.check_name(x)
        if not ok then fail(fmt("%s: bad output name '%s': %s", kind, x, why)) end
      end
    end
    return out
  elseif k == "label" then
    if type(v) ~= "string" then type_error(kind, name, "a label string", v) end
    if has_nul(v) then fail(fmt("%s: attribute '%s' contains a NUL byte", kind, name)) end
    return parse_label(v, cur_pkg, "attribute '" .. name .. "'")
  elseif k == "label_list" then
    check_list(kind, name, v, "label string")
    local out = {}
    for i, x in ipairs(v) do out[i] = parse_label(x, cur_pkg, "attribute '" .. name .. "'") end
    return out
  elseif k == "timeout" then
    local secs = ({ short = 60, moderate = 300, long = 900, eternal = 3600 })[v]
    if secs == nil and math.type(v) == "integer" and v > 0 then secs = v end
    if secs == nil then
      fail(fmt("%s: attribute '%s' must be short, moderate, long or a number of seconds", kind, name))
    end
    return secs
  elseif k == "raw" then
    return v -- internal: the rule's own check looks at it
  elseif k == "string_dict" then
    if type(v) ~= "table" then type_error(kind, name, "a table of strings", v) end
    local out = {}
    for key, x in next, v do
      if type(key) ~= "string" or type(x) ~= "string" then
        fail(fmt("%s: attribute '%s' must map strings to strings", kind, name))
      end
      if has_nul(key) or has_nul(x) then
        fail(fmt("%s: attribute '%s' contains a NUL byte", kind, name))
      end
      out[key] = x
    end
    return out
  end
  error("unknown attribute kind " .. tostring(k))
end

-- visibility: "//visibility:public", "//visibility:private", "//p", "//p/...",
-- "//...", "//p:__pkg__", "//p:__subpackages__".
local function parse_visibility(v)
  check_list("visibility", "visibility", v, "string")
  local out = {}
  for _, s in ipairs(v) do
    if s == "//visibility:public" or s == "//..." then
      out[#out + 1] = { public = true }
    elseif s == "//visibility:private" then
      -- nothing: the package itself always sees its targets
    else
      local p, rec = s:match("^//(.-)/%.%.%.$")
      if p then rec = true else p = s:match("^//(.-):__subpackages__$"); rec = p ~= nil end
      if not p then p = s:match("^//(.-):__pkg__$") or s:match("^//([^:]*)$") end
      if not p or not C.check_pkg(p) then
        fail(fmt("bad visibility pattern '%s' (want //pkg, //pkg/... or //visibility:public)", s))
      end
      out[#out + 1] = { pkg = p, recursive = rec }
    end
  end
  return out
end

local function visible(t, from_pkg)
  if t.pkg == from_pkg or t.visibility == nil then return true end
  for _, v in ipairs(t.visibility) do
    if v.public then return true end
    if v.pkg == from_pkg then return true end
    if v.recursive and (v.pkg == "" or from_pkg:sub(1, #v.pkg + 1) == v.pkg .. "/") then
      return true
    end
  end
  return false
end

local function tag_flags(tags, flags)
  for _, tg in ipairs(tags or {}) do
    if tg == "no-sandbox" then flags = flags | 1 end
    if tg == "requires-network" then flags = flags | 2 end
    if tg == "no-remote" or tg == "local" then flags = flags | 16 end
  end
  return flags
end

---------------------------------------------------------------- rules
local RuleMT = {}
local function is_rule(v) return getmetatable(v) == RuleMT end

local function instantiate(r, args)
  local kind = r.kind or "rule"
  if cur_pkg == nil then fail(kind .. ": rules can only be called while a BUILD.lua is evaluated") end
  if type(args) ~= "table" then fail(kind .. ": takes one table of attributes") end
  if type(args.name) ~= "string" then fail(kind .. ": attribute 'name' must be a string") end
  local ok, why = C.check_name(args.name)
  if not ok then fail(fmt("%s: bad target name '%s': %s", kind, args.name, why)) end
  local p = packages[cur_pkg]
  local t = {
    pkg = cur_pkg, name = args.name, label = label_of(cur_pkg, args.name),
    rule = r, attrs = {}, loc = C.where(),
  }
  kind = kind .. " " .. t.label
  for k, v in spairs(args) do
    if k == "name" then
    elseif k == "visibility" then t.visibility = parse_visibility(v)
    elseif k == "tags" then check_list(kind, "tags", v, "string"); t.tags = v
    elseif type(k) ~= "string" or not r.attrs[k] then
      fail(fmt("%s: unknown attribute '%s'", kind, tostring(k)))
    else
      t.attrs[k] = check_attr(kind, k, r.attrs[k], v)
    end
  end
  for k, a in spairs(r.attrs) do
    if t.attrs[k] == nil then
      if a.mandatory then fail(fmt("%s: missing mandatory attribute '%s'", kind, k)) end
      if a.default ~= nil then t.attrs[k] = check_attr(kind, k, a, a.default) end
    end
  end
  if r.check then r.check(t.attrs, kind) end
  local prev = p.targets[t.name] or p.targets[p.outputs[t.name]]
  if prev then
    fail(fmt("%s: target '%s' is already defined at %s", kind, t.name, prev.loc))
  end
  p.targets[t.name] = t
  p.order[#p.order + 1] = t.name
  for k, a in spairs(r.attrs) do
    if a.attr_kind == "output_list" then
      for _, o in ipairs(t.attrs[k] or {}) do
        local other = p.targets[o] or p.targets[p.outputs[o]]
        if o == t.name and not p.outputs[o] then
          -- as Bazel: a label names a rule before a file, so :x is the
          -- rule (all its outputs), wherever a label is resolved
          C.warn(fmt("%s: target '%s' is both a rule and a file; %s names the rule "
            .. "(please choose another name for the rule)", kind, o, t.label))
        elseif other then
          fail(fmt("%s: output '%s' clashes with target %s (%s)", kind, o, other.label, other.loc))
        end
        p.outputs[o] = t.name
      end
    end
  end
end

RuleMT.__call = instantiate
RuleMT.__index = RuleMT
RuleMT.__name = "rule"

local function make_rule(def, kind)
  if type(def) ~= "table" then fail("rule{} takes one table: { attrs = ..., impl = ... }") end
  for k in next, def do
    if k ~= "attrs" and k ~= "impl" and k ~= "test" and k ~= "executable" and k ~= "check" then
      fail(fmt("rule{}: unknown field '%s'", tostring(k)))
    end
  end
  if type(def.impl) ~= "function" then fail("rule{}: 'impl' must be a function") end
  local attrs = def.attrs or {}
  if type(attrs) ~= "table" then fail("rule{}: 'attrs' must be a table") end
  for k, a in next, attrs do
    if type(k) ~= "string" or type(a) ~= "table" or not a.attr_kind then
      fail(fmt("rule{}: attribute '%s' must be made with attr.*", tostring(k)))
    end
    if k == "name" or k == "visibility" or k == "tags" then
      fail(fmt("rule{}: attribute '%s' is implicit and cannot be declared", k))
    end
  end
  if def.test then
    -- every test rule takes these (SPEC section 3, Tests)
    local all = {}
    for k, a in next, attrs do all[k] = a end
    all.args = all.args or attr.string_list {}
    all.data = all.data or attr.label_list {}
    all.env = all.env or attr.string_dict {}
    all.timeout = all.timeout or { attr_kind = "timeout", default = 300 }
    all.flaky = all.flaky or attr.bool { default = false }
    all.shard_count = all.shard_count or attr.int { default = 1 }
    attrs = all
  end
  return setmetatable({ attrs = attrs, impl = def.impl, check = def.check, test = def.test and true or false,
    executable = def.executable and true or false, kind = kind }, RuleMT)
end
base.rule = function(def) return make_rule(def, nil) end

---------------------------------------------------------------- load()
local modules = {}   -- path -> { value, loading }
base.load = function(l)
  if type(l) ~= "string" then fail("load() takes a label string such as \"//rules/x.lua\"") end
  local path
  local pk, nm = l:match("^//([^:]*):(.+)$")
  if pk then path = join_path(pk, nm) else path = l:match("^//(.+)$") end
  if not path or not path:match("%.lua$") or not C.check_pkg(path) then
    fail(fmt("load: bad module label '%s' (want //path/file.lua)", l))
  end
  local m = modules[path]
  if m then
    if m.loading then fail(fmt("load: '%s' loads itself (a load cycle)", l)) end
    return m.value
  end
  if C.exists(path) ~= "file" then fail(fmt("load: no such module '%s'", l)) end
  m = { loading = true }
  modules[path] = m
  local v = C.compile(path, new_env())()
  if type(v) == "table" then
    for k, x in spairs(v) do
      if is_rule(x) and x.kind == nil and type(k) == "string" and not has_nul(k) then
        x.kind = k
      end
    end
  end
  m.value, m.loading = v, false
  return v
end

base.package_name = function()
  if cur_pkg == nil then fail("package_name() is only available while a BUILD.lua is evaluated") end
  return cur_pkg
end
base.workspace_root_name = function() return C.root_name end

base.glob = function(spec)
  if cur_pkg == nil then fail("glob() is only available while a BUILD.lua is evaluated") end
  if type(spec) ~= "table" then fail("glob takes a table: glob{ \"*.c\", exclude = { ... } }") end
  local inc, exc = {}, {}
  for k, v in next, spec do
    if k == "exclude" then
      check_list("glob", "exclude", v, "string")
      exc = v
    elseif math.type(k) ~= "integer" then
      fail(fmt("glob: unknown field '%s'", tostring(k)))
    elseif type(v) ~= "string" then
      fail("glob: patterns must be strings")
    elseif has_nul(v) then
      fail(fmt("glob: pattern %d contains a NUL byte", k))
    end
  end
  for i = 1, #spec do inc[i] = spec[i] end
  for _, p in ipairs(inc) do
    if p:sub(1, 1) == "/" or p:find("..", 1, true) then
      fail(fmt("glob: pattern '%s' leaves the package", p))
    end
  end
  return C.glob(cur_pkg, inc, exc)
end

---------------------------------------------------------------- sealed targets
-- An analyzed target whose providers are only its files is kept sealed:
-- one string, "kind\0loc\0file\0file...", in place of its tables, which
-- were 7 of the 9 MB of Lua heap that 10k analyzed genrules held. A file
-- is "s" .. path for a source, "o" .. short_path for an output of the
-- target itself, "O" .. owner, short_path (two fields) for another's.
-- target() gives a view of it: a table as analyze() leaves a target, with
-- the kind in place of the rule; views are made again when dropped.
local views = setmetatable({}, { __mode = "v" })

local function plain_file(f)
  for k in next, f do
    if k ~= "path" and k ~= "short_path" and k ~= "is_source" and k ~= "owner" then
      return false
    end
  end
  return type(f.path) == "string" and type(f.short_path) == "string"
end

-- The sealed string of an analyzed target, or nil when its providers
-- hold more than files (or files a rule has changed).
local function seal(t, prov)
  for k in next, prov do
    if k ~= "files" and k ~= "label" then return nil end
  end
  local parts = { t.rule.kind or "rule", t.loc }
  if parts[1] == "" or parts[2] == "" then return nil end
  for _, f in ipairs(prov.files) do
    if not plain_file(f) then return nil end
    local short = f.short_path
    if f.is_source == true and f.owner == nil and f.path == short and short ~= "" then
      parts[#parts + 1] = "s" .. short
    elseif f.is_source == false and type(f.owner) == "string" and f.owner ~= ""
        and short ~= "" and f.path == "cairn-out/" .. short then
      if f.owner == t.label then
        parts[#parts + 1] = "o" .. short
      else
        parts[#parts + 1] = "O" .. f.owner
        parts[#parts + 1] = short
      end
    else
      return nil
    end
  end
  return concat(parts, "\0")
end

local function unseal(pkg, name, s)
  local label = label_of(pkg, name)
  local v = views[label]
  if v then return v end
  local field = s:gmatch("[^\0]+")
  local kind, loc = field(), field()
  local files = {}
  for x in field do
    local tag, rest = x:sub(1, 1), x:sub(2)
    if tag == "s" then
      files[#files + 1] = source_file(rest)
    else
      local owner = label
      if tag == "O" then owner, rest = rest, field() end
      files[#files + 1] = setmetatable({ path = "cairn-out/" .. rest, short_path = rest,
        is_source = false, owner = owner }, FileMT)
    end
  end
  v = { pkg = pkg, name = name, label = label, kind = kind, loc = loc,
    providers = { files = files, label = label } }
  views[label] = v
  return v
end

-- The target of package p named name (a table, or the view of a sealed
-- one), or nil.
local function target(p, name)
  local t = p.targets[name]
  if type(t) == "string" then return unseal(p.name, name, t) end
  return t
end

local function get_package(pkg)
  local p = packages[pkg]
  if p then return p end
  if not C.is_package(pkg) then return nil end
  p = { name = pkg, targets = {}, order = {}, outputs = {} }
  packages[pkg] = p
  local saved = cur_pkg
  cur_pkg = pkg
  C.compile(join_path(pkg, "BUILD.lua"), new_env())()
  cur_pkg = saved
  return p
end

---------------------------------------------------------------- analysis
local analyzing = {}  -- stack of targets being analyzed
local written = {}    -- output path -> true, for every action added

local function add_action(spec)
  for _, o in ipairs(spec.outputs) do written[o] = true end
  C.add_action(spec)
end
local in_progress = {}

local analyze

-- Providers of the thing a label names, seen from target `from`. A rule
-- comes before a file: a genrule x with an output x is named by :x here,
-- on the command line (match) and in query alike.
local function resolve(l, from)
  local p = get_package(l.pkg)
  local lstr = label_of(l.pkg, l.name)
  if not p then
    fail_at(from.loc, fmt("%s: no such package '%s' (needed for %s)", from.label, l.pkg, lstr))
  end
  local t = target(p, l.name)
  if t then
    if not visible(t, from.pkg) then
      fail_at(from.loc, fmt("%s depends on %s, which is not visible from package '%s'",
        from.label, t.label, from.pkg))
    end
    return analyze(t)
  end
  local gen = p.outputs[l.name] and target(p, p.outputs[l.name])
  if gen then
    if not visible(gen, from.pkg) then
      fail_at(from.loc, fmt("%s depends on %s, which is not visible from package '%s'",
        from.label, lstr, from.pkg))
    end
    local prov = analyze(gen)
    local want = join_path("cairn-out/" .. l.pkg, l.name)
    if l.pkg == "" then want = "cairn-out/" .. l.name end
    for _, f in ipairs(prov.files or {}) do
      if f.path == want then return { files = { f }, label = lstr } end
    end
    fail_at(gen.loc, fmt("%s declares output '%s' but does not produce it", gen.label, l.name))
  end
  local path = join_path(l.pkg, l.name)
  if C.exists(path) == "file" then
    return { files = { source_file(path) }, label = lstr }
  end
  fail_at(from.loc, fmt("%s: no such target or source file '%s'", from.label, lstr))
end

local function new_ctx(t, attrv, files)
  local ctx = { attr = attrv, files = files }
  ctx.label = setmetatable({ name = t.name, package = t.pkg },
    { __tostring = function() return t.label end })
  local declared = {}
  ctx._declared = declared
  function ctx.declare_file(name)
    if type(name) ~= "string" then fail("ctx.declare_file takes a file name") end
    local ok, why = C.check_name(name)
    if not ok then fail(fmt("ctx.declare_file: bad name '%s': %s", name, why)) end
    if declared[name] then fail(fmt("ctx.declare_file: '%s' declared twice", name)) end
    local short = join_path(t.pkg, name)
    local f = setmetatable({ path = "cairn-out/" .. short, short_path = short,
      is_source = false, owner = t.label }, FileMT)
    declared[name] = f
    return f
  end
  function ctx.paths(list)
    if type(list) ~= "table" then fail("ctx.paths takes a list of files") end
    local out = {}
    for i, f in ipairs(list) do
      if not is_file(f) then fail(fmt("ctx.paths: element %d is not a file", i)) end
      out[i] = f.path
    end
    return out
  end
  function ctx.action(a)
    if type(a) ~= "table" then fail("ctx.action takes one table") end
    for k in next, a do
      if not ({ argv = 1, cmd = 1, inputs = 1, outputs = 1, env = 1, mnemonic = 1,
          progress = 1, tags = 1 })[k] then
        fail(fmt("ctx.action: unknown field '%s'", tostring(k)))
      end
    end
    local argv
    if a.argv ~= nil and a.cmd ~= nil then fail("ctx.action: give argv or cmd, not both") end
    if a.cmd ~= nil then
      if type(a.cmd) ~= "string" then fail("ctx.action: cmd must be a string") end
      if has_nul(a.cmd) then fail("ctx.action: cmd contains a NUL byte") end
      argv = { "/bin/sh", "-c", a.cmd }
    else
      if not is_list(a.argv) or #a.argv == 0 then fail("ctx.action: argv must be a non-empty list of strings") end
      argv = {}
      for i, x in ipairs(a.argv) do
        if type(x) ~= "string" then fail(fmt("ctx.action: argv[%d] is a %s, not a string", i, type(x))) end
        if has_nul(x) then fail(fmt("ctx.action: argv[%d] contains a NUL byte", i)) end
        argv[i] = x
      end
    end
    local function files_of(field, v)
      if v == nil then return {} end
      if not is_list(v) then fail("ctx.action: " .. field .. " must be a list of files") end
      local out = {}
      for i, f in ipairs(v) do
        if not is_file(f) then fail(fmt("ctx.action: %s[%d] is not a file", field, i)) end
        out[i] = f
      end
      return out
    end
    local ins, outs = files_of("inputs", a.inputs), files_of("outputs", a.outputs)
    if #outs == 0 then fail("ctx.action: an action needs at least one output") end
    local in_paths, out_paths = {}, {}
    for i, f in ipairs(ins) do in_paths[i] = f.path end
    for i, f in ipairs(outs) do
      if f.is_source or f.owner ~= t.label then
        fail(fmt("ctx.action: output %s was not declared by %s", f.path, t.label))
      end
      out_paths[i] = f.path
    end
    local env = {}
    if a.env ~= nil then
      if type(a.env) ~= "table" then fail("ctx.action: env must be a table of strings") end
      for k, v in spairs(a.env) do
        if type(k) ~= "string" or type(v) ~= "string" or k:find("=", 1, true) or k == "" then
          fail("ctx.action: env must map names to strings")
        end
        if has_nul(k) or has_nul(v) then fail("ctx.action: env contains a NUL byte") end
        env[#env + 1] = k .. "=" .. v
      end
    end
    if a.tags ~= nil then check_list("ctx.action", "tags", a.tags, "string") end
    if a.mnemonic ~= nil and (type(a.mnemonic) ~= "string" or not a.mnemonic:match("^[%w_]+$")) then
      fail("ctx.action: mnemonic must be a word")
    end
    if a.progress ~= nil and type(a.progress) ~= "string" then fail("ctx.action: progress must be a string") end
    if a.progress ~= nil and has_nul(a.progress) then fail("ctx.action: progress contains a NUL byte") end
    add_action {
      label = t.label, mnemonic = a.mnemonic or "Action", progress = a.progress,
      where = t.loc, argv = argv, env = env, inputs = in_paths, outputs = out_paths,
      flags = tag_flags(a.tags, tag_flags(t.tags, 0)),
    }
  end
  return ctx
end

analyze = function(t)
  if t.providers then return t.providers end
  if in_progress[t] then
    local path, from = {}, 1
    for i, x in ipairs(analyzing) do if x == t then from = i end end
    for i = from, #analyzing do path[#path + 1] = analyzing[i].label end
    path[#path + 1] = t.label
    fail_at(t.loc, "dependency cycle: " .. concat(path, " -> "))
  end
  in_progress[t] = true
  analyzing[#analyzing + 1] = t
  local attrv, files = {}, {}
  for name, a in spairs(t.rule.attrs) do
    local v = t.attrs[name]
    if a.attr_kind == "label" then
      if v then
        local prov = resolve(v, t)
        attrv[name], files[name] = prov, prov.files or {}
      end
    elseif a.attr_kind == "label_list" then
      local provs, fl = {}, {}
      for i, l in ipairs(v or {}) do
        provs[i] = resolve(l, t)
        for _, f in ipairs(provs[i].files or {}) do fl[#fl + 1] = f end
      end
      attrv[name], files[name] = provs, fl
    else
      attrv[name] = v
    end
  end
  local ctx = new_ctx(t, attrv, files)
  C.set_context(fmt("while analyzing %s (%s)", t.label, t.loc))
  local ret = t.rule.impl(ctx)
  for _, name in ipairs(sorted_keys(ctx._declared)) do
    local path = ctx._declared[name].path
    if not written[path] then
      fail_at(t.loc, fmt("%s declares '%s' but no action writes it", t.label, name))
    end
    written[path] = nil -- checked: only this target could write it
  end
  if ret ~= nil and type(ret) ~= "table" then
    fail(fmt("the impl of %s must return a table of providers or nil", t.label))
  end
  local prov = {}
  for k, v in next, ret or {} do prov[k] = v end
  prov.files = prov.files or {}
  if not is_list(prov.files) then fail(fmt("%s: provider 'files' must be a list of files", t.label)) end
  for i, f in ipairs(prov.files) do
    if not is_file(f) then fail(fmt("%s: provider files[%d] is not a file", t.label, i)) end
  end
  prov.label = t.label
  analyzing[#analyzing] = nil
  in_progress[t] = nil
  local up = analyzing[#analyzing]
  C.set_context(up and fmt("while analyzing %s (%s)", up.label, up.loc) or nil)
  t.providers = prov
  -- a build analyzes each target once and then needs only its providers
  -- (a test's attributes still make its test action); at 10k targets
  -- this keeps about 6 MB less alive at the end of the analysis
  if not t.rule.test then
    t.attrs = nil
    local sealed = t.visibility == nil and seal(t, prov)
    if sealed then packages[t.pkg].targets[t.name] = sealed end
  end
  return prov
end

---------------------------------------------------------------- built-in rules
local function dedup_files(list)
  local seen, out = {}, {}
  for _, f in ipairs(list) do
    if not seen[f.path] then seen[f.path] = true; out[#out + 1] = f end
  end
  return out
end

local function expand_cmd(ctx, t, cmd, srcs, outs, deps_by_label)
  local function paths(list)
    local p = {}
    for i, f in ipairs(list) do p[i] = shq(f.path) end
    return concat(p, " ")
  end
  local function var(inner)
    if inner == "SRCS" then return paths(srcs) end
    if inner == "OUTS" then return paths(outs) end
    local fn, arg = inner:match("^(%w+)%s+(.+)$")
    if fn == "location" or fn == "execpath" or fn == "locations" or fn == "execpaths" then
      local l = parse_label(arg, t.pkg, "$(" .. inner .. ")")
      local prov = deps_by_label[label_of(l.pkg, l.name)]
      if not prov then
        fail_at(t.loc, fmt("%s: $(%s): %s is not in srcs or tools", t.label, inner, label_of(l.pkg, l.name)))
      end
      local fl = prov.files or {}
      if (fn == "location" or fn == "execpath") and #fl ~= 1 then
        fail_at(t.loc, fmt("%s: $(%s) names %d files, not one (use $(locations ...))", t.label, inner, #fl))
      end
      return paths(fl)
    end
    fail_at(t.loc, fmt("%s: unknown variable $(%s) in cmd (write $$ for a shell $)", t.label, inner))
  end
  -- $$ is a literal $, $(X) a variable, $@ and $< the only output and
  -- source; any other $ passes through to the shell.
  local out, i, n = {}, 1, #cmd
  while i <= n do
    local j = cmd:find("$", i, true)
    if not j then out[#out + 1] = cmd:sub(i); break end
    out[#out + 1] = cmd:sub(i, j - 1)
    local c = cmd:sub(j + 1, j + 1)
    if c == "$" then
      out[#out + 1] = "$"; i = j + 2
    elseif c == "(" then
      local k = cmd:find(")", j + 2, true)
      if not k then fail_at(t.loc, fmt("%s: unterminated $( in cmd", t.label)) end
      out[#out + 1] = var(cmd:sub(j + 2, k - 1)); i = k + 1
    elseif c == "@" then
      if #outs ~= 1 then fail_at(t.loc, fmt("%s: $@ needs exactly one output, there are %d", t.label, #outs)) end
      out[#out + 1] = shq(outs[1].path); i = j + 2
    elseif c == "<" then
      if #srcs ~= 1 then fail_at(t.loc, fmt("%s: $< needs exactly one source, there are %d", t.label, #srcs)) end
      out[#out + 1] = shq(srcs[1].path); i = j + 2
    else
      out[#out + 1] = "$"; i = j + 1
    end
  end
  return concat(out)
end

local genrule = make_rule({
  attrs = { srcs = attr.label_list {}, outs = output_list, cmd = attr.string { mandatory = true },
    tools = attr.label_list {}, env = attr.string_dict {} },
  impl = function(ctx)
    local t = analyzing[#analyzing]
    local outs = {}
    for i, o in ipairs(ctx.attr.outs) do outs[i] = ctx.declare_file(o) end
    local srcs = dedup_files(ctx.files.srcs)
    local tools = dedup_files(ctx.files.tools)
    local by_label = {}
    for _, prov in ipairs(ctx.attr.srcs or {}) do by_label[prov.label] = prov end
    for _, prov in ipairs(ctx.attr.tools or {}) do by_label[prov.label] = prov end
    local inputs = {}
    for _, f in ipairs(srcs) do inputs[#inputs + 1] = f end
    for _, f in ipairs(tools) do inputs[#inputs + 1] = f end
    ctx.action {
      cmd = expand_cmd(ctx, t, ctx.attr.cmd, srcs, outs, by_label),
      inputs = inputs, outputs = outs, env = ctx.attr.env, mnemonic = "Genrule",
    }
    return { files = outs }
  end,
}, "genrule")
base.genrule = genrule

base.filegroup = make_rule({
  attrs = { srcs = attr.label_list {} },
  impl = function(ctx) return { files = dedup_files(ctx.files.srcs) } end,
}, "filegroup")

rules_cc {
  attr = attr, make_rule = make_rule, fail = fail, fail_at = fail_at, base = base, C = C,
  current = function() return analyzing[#analyzing] end,
  paths = function(list)
    local out = {}
    for i, f in ipairs(list) do out[i] = f.path end
    return out
  end,
  tag_flags = tag_flags,
  add_action = add_action,
}

---------------------------------------------------------------- tests
local ACT_TEST, ACT_FLAKY = 4, 8

-- The actions that run a test target: one per shard. Each writes the
-- test's log and JUnit XML (the scheduler fills them in).
local function test_command(t, prov)
  local exe = prov.executable
  if not is_file(exe) then
    fail_at(t.loc, fmt("%s: a test rule must return an 'executable' file", t.label))
  end
  local a = t.attrs
  local inputs = { exe.path }
  for _, f in ipairs(prov.runfiles or {}) do inputs[#inputs + 1] = f.path end
  for _, l in ipairs(a.data or {}) do
    for _, f in ipairs(resolve(l, t).files or {}) do inputs[#inputs + 1] = f.path end
  end
  local argv = { exe.path }
  if exe.is_source then argv = { "/bin/sh", exe.path } end
  for _, x in ipairs(a.args or {}) do argv[#argv + 1] = x end
  local env = { "TEST_TIMEOUT=" .. tostring(a.timeout or 300) }
  for k, v in spairs(a.env or {}) do env[#env + 1] = k .. "=" .. v end
  return argv, env, inputs
end

local function test_actions(t, prov)
  local a = t.attrs
  local n = a.shard_count or 1
  if n < 1 or n > 1000 then fail_at(t.loc, fmt("%s: shard_count must be 1 to 1000", t.label)) end
  local argv, tenv, inputs = test_command(t, prov)
  local flags = tag_flags(t.tags, ACT_TEST | (a.flaky and ACT_FLAKY or 0))
  local base_dir = "cairn-out/" .. join_path(t.pkg, t.name)
  if t.pkg == "" then base_dir = "cairn-out/" .. t.name end
  local outs = {}
  for i = 0, n - 1 do
    local stem = n == 1 and base_dir or fmt("%s.shard_%d_of_%d", base_dir, i + 1, n)
    local env = { tenv[1], "TEST_TMPDIR=" .. stem .. ".tmp" }
    if n > 1 then
      env[#env + 1] = "TEST_SHARD_INDEX=" .. i
      env[#env + 1] = "TEST_TOTAL_SHARDS=" .. n
    end
    for j = 2, #tenv do env[#env + 1] = tenv[j] end
    add_action {
      label = t.label, mnemonic = "Test", where = t.loc, argv = argv, env = env,
      inputs = inputs, outputs = { stem .. ".log", stem .. ".xml" }, flags = flags,
      progress = n == 1 and t.label or fmt("%s (shard %d/%d)", t.label, i + 1, n),
    }
    C.request(stem .. ".xml")
    outs[#outs + 1] = stem
  end
  C.test_target(t.label, base_dir, n)
  return outs
end

-- Tests a request runs (cairn test, and a deploy's required tests): each once.
local tested = {}
local deploying = false

-- The test target label l names, seen from target `from`, analyzed:
-- the target and its providers, or nil when l names no test.
local function test_target(l, from)
  local prov = resolve(l, from)
  local p = get_package(l.pkg)
  local t = p and target(p, l.name)
  if not t or not t.rule or not t.rule.test then return nil end
  return t, prov
end

rules_deploy {
  attr = attr, make_rule = make_rule, fail = fail, fail_at = fail_at, base = base, C = C,
  current = function() return analyzing[#analyzing] end,
  label_of = label_of, spairs = spairs, is_list = is_list, has_nul = has_nul,
  deploying = function() return deploying end,
  -- a health check: how to run the test l names, its inputs requested
  -- when deploying; nil when l is no test
  health = function(l, from)
    local t, prov = test_target(l, from)
    if not t then return nil end
    local argv, env, inputs = test_command(t, prov)
    if deploying then for _, p in ipairs(inputs) do C.request(p) end end
    return { label = t.label, argv = argv, env = env, inputs = inputs }
  end,
  -- a required test: run when deploying; its label and log base, or nil
  -- when l is no test
  require_test = function(l, from)
    local t, prov = test_target(l, from)
    if not t then return nil end
    local base_dir = "cairn-out/" .. (t.pkg == "" and t.name or join_path(t.pkg, t.name))
    if deploying and not tested[t] then
      tested[t] = true
      test_actions(t, prov)
    end
    return { label = t.label, base = base_dir, shards = t.attrs.shard_count or 1 }
  end,
}

---------------------------------------------------------------- WORKSPACE.lua
-- workspace{ ... }: settings of the whole workspace, only in WORKSPACE.lua.
--   lua_memory_limit = "8G"  the most memory evaluation may take (the Lua
--                            heap): bytes, or a size with K, M or G;
--                            4G when not set, 16M at least
local units = { [""] = 1, K = 1 << 10, M = 1 << 20, G = 1 << 30 }
local function workspace_settings(s)
  if type(s) ~= "table" then fail('workspace takes a table: workspace{ lua_memory_limit = "8G" }') end
  for k, v in spairs(s) do
    if k == "lua_memory_limit" then
      local n, unit = v, ""
      if type(v) == "string" then
        n, unit = v:match("^(%d+)([KMG]?)$")
        n = math.tointeger(tonumber(n))
      end
      if math.type(n) ~= "integer" or n < 0 or n > (1 << 40) or n * units[unit] < (16 << 20) then
        fail('workspace: lua_memory_limit must be a size such as "512M" or "8G", 16M at least')
      end
      C.set_memory_limit(n * units[unit])
    else
      fail(fmt("workspace: unknown setting '%s'", tostring(k)))
    end
  end
end

---------------------------------------------------------------- entry points
local M = {}

-- POLICY.lua: evaluated like a build file; returns a table of functions.
local policy
local POLICY_FIELDS = { action = true, deploy = true }

-- Load POLICY.lua when there is one: true, or false when there is none.
function M.policy_load()
  if C.exists("POLICY.lua") ~= "file" then return false end
  local v = C.compile("POLICY.lua", new_env())()
  if type(v) ~= "table" then
    fail_at("POLICY.lua:1", "POLICY.lua must return a table of functions: "
      .. "return { action = function(a) ... end, deploy = function(d) ... end }")
  end
  for k, f in next, v do
    if not POLICY_FIELDS[k] then
      fail_at("POLICY.lua:1", fmt("unknown hook '%s' (want action or deploy)", tostring(k)))
    end
    if type(f) ~= "function" then
      fail_at("POLICY.lua:1", fmt("hook '%s' must be a function", k))
    end
  end
  policy = v
  return true
end

-- Which hooks the loaded policy has: "a" action, "d" deploy.
function M.policy_hooks()
  if not policy then return "" end
  return (policy.action and "a" or "") .. (policy.deploy and "d" or "")
end

-- Ask a hook about x (a table C made, shown read-only): nil to allow, or
-- the reason it denies (C checks that it is a string).
function M.policy_ask(hook, x)
  return (policy[hook](readonly(x, hook == "action" and "a" or "d")))
end

function M.workspace()
  if C.exists("WORKSPACE.lua") == "file" then
    local env = new_env()
    env.workspace = workspace_settings
    C.compile("WORKSPACE.lua", env)()
  end
end

-- Call visit(t) for each target matched by one pattern {kind, pkg, name},
-- in a stable order. A recursive pattern visits a package's targets as
-- soon as that package is loaded: a build analyzes one package after
-- another, and each target's attributes are dropped once it is analyzed,
-- so the attributes of every package are never all alive at once (at
-- 10k targets they were most of the Lua heap).
local function match(pat, visit)
  if pat.kind == "target" then
    local p = get_package(pat.pkg)
    if not p then fail_at(nil, fmt("no such package '%s' (in %s)", pat.pkg, pat.text)) end
    local t = target(p, pat.name)
    if not t then
      if p.outputs[pat.name] or C.exists(join_path(pat.pkg, pat.name)) == "file" then
        return visit({ file_label = { pkg = pat.pkg, name = pat.name }, label = pat.text })
      end
      fail_at(nil, fmt("no such target '%s'", label_of(pat.pkg, pat.name)))
    end
    visit(t)
  elseif pat.kind == "package" then
    local p = get_package(pat.pkg)
    if not p then fail_at(nil, fmt("no such package '%s' (in %s)", pat.pkg, pat.text)) end
    for _, name in ipairs(p.order) do visit(target(p, name)) end
  else
    local pkgs = C.list_packages(pat.pkg)
    if #pkgs == 0 and pat.pkg ~= "" then
      fail_at(nil, fmt("no packages found beneath '%s' (in %s)", pat.pkg, pat.text))
    end
    for _, name in ipairs(pkgs) do
      local p = get_package(name)
      for _, n in ipairs(p.order) do visit(target(p, n)) end
    end
  end
end

local cmdline = { pkg = "", label = "//:command-line", loc = "command line" }

-- Analyze the targets of the patterns and request their default outputs.
-- Returns the list of labels analyzed.
function M.request(pats, run_tests, deploy)
  local labels = {}
  deploying = deploy
  for _, pat in ipairs(pats) do
    match(pat, function(t)
      local prov
      cmdline.pkg = t.pkg
      if t.file_label then
        cmdline.pkg = t.file_label.pkg -- the command line sees every target
        prov = resolve(t.file_label, cmdline)
      else
        prov = analyze(t)
      end
      labels[#labels + 1] = t.label
      for _, f in ipairs(prov.files or {}) do C.request(f.path) end
      if run_tests and t.rule and t.rule.test and not tested[t] then
        tested[t] = true
        test_actions(t, prov)
      end
    end)
  end
  return labels
end

-- For query: labels of the targets of the patterns.
function M.targets(pats)
  local seen, labels = {}, {}
  for _, pat in ipairs(pats) do
    match(pat, function(t)
      if not seen[t.label] then seen[t.label] = true; labels[#labels + 1] = t.label end
    end)
  end
  return labels
end

local function find(lstr)
  local l = parse_label(lstr, nil, "query")
  local p = get_package(l.pkg)
  return p and target(p, l.name), l
end

-- For query: direct dependencies of a target (labels), and its kind.
function M.deps(lstr)
  local t = find(lstr)
  local out = {}
  -- query never analyzes, so no target it asks about is sealed
  if not t or not t.rule then return out end
  for name, a in spairs(t.rule.attrs) do
    local v = t.attrs[name]
    if a.attr_kind == "label" and v then v = { v } end
    if (a.attr_kind == "label" or a.attr_kind == "label_list") and v then
      for _, l in ipairs(v) do
        local p = get_package(l.pkg)
        if not p then
          fail_at(t.loc, fmt("%s: no such package '%s'", t.label, l.pkg))
        end
        local dep = target(p, l.name) or target(p, p.outputs[l.name] or "")
        out[#out + 1] = dep and dep.label or label_of(l.pkg, l.name)
      end
    end
  end
  return out
end

function M.kind(lstr)
  local t, l = find(lstr)
  if t then return t.kind or t.rule.kind or "rule" end
  local p = get_package(l.pkg)
  if p and p.outputs[l.name] then return "generated file" end
  return "source file"
end

return M
