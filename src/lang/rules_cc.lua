-- rules_cc: cc_library, cc_binary, cc_test and sh_test, written against
-- the same rule{} machinery users have, plus two internal action fields:
-- `pinputs` (headers the compiler may or may not read) and `depfile` (the
-- file in which it says which ones it did read).
--
-- The C provider of a target is `cc`:
--   hdrs      every header of the target and its deps (files), for the
--             compile actions' inputs
--   defines, includes, linkopts   propagated to dependents, transitively
--   libs      { archive = File, deps = { cc... } }: the link graph
-- copts and local_defines stay with the target that declares them.
local I = ...
local fmt, concat = string.format, table.concat
local attr, make_rule, fail, fail_at = I.attr, I.make_rule, I.fail, I.fail_at
local C = I.C

local function is_src(path) return path:match("%.c$") or path:match("%.cc$")
  or path:match("%.cpp$") or path:match("%.S$") or path:match("%.s$") end
local function is_hdr(path) return path:match("%.h$") or path:match("%.hh$")
  or path:match("%.hpp$") or path:match("%.inc$") end

local function compiler(t)
  if not C.cc_path then
    fail_at(t.loc, fmt("%s: no C compiler: %s", t.label, C.cc_error or "cc not found"))
  end
  return C.cc_path
end

-- Merge the cc providers of deps, checking that each dep is a C library.
local function collect(t, deps)
  local info = { hdrs = {}, defines = {}, includes = {}, linkopts = {}, libs = {} }
  local seen_h = {}
  for _, d in ipairs(deps or {}) do
    local cc = d.cc
    if type(cc) ~= "table" then
      fail_at(t.loc, fmt("%s: %s is not a C library (cc_library), in deps", t.label, d.label))
    end
    for _, h in ipairs(cc.hdrs) do
      if not seen_h[h.path] then seen_h[h.path] = true; info.hdrs[#info.hdrs + 1] = h end
    end
    for _, k in ipairs { "defines", "includes", "linkopts" } do
      for _, v in ipairs(cc[k]) do info[k][#info[k] + 1] = v end
    end
    info.libs[#info.libs + 1] = cc.lib
  end
  return info
end

local function dedup(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do
    if not seen[v] then seen[v] = true; out[#out + 1] = v end
  end
  return out
end

-- The name of each source's object, without ".o", under _objs/NAME/ of
-- the target: unique within the target, and readable. A file of the
-- target's package keeps its path from the package ("sub/a.c": "sub/a");
-- a file of another package its path from the workspace root, under
-- _root ("//lib:x.c": "_root/lib/x"), so that sources of the same base
-- name from different packages do not meet. Should two still meet (a.c
-- and a.cc, a directory of the package named _root), the later one in
-- srcs keeps its extension, and then takes a number (".2").
local function object_stems(t, srcs)
  local stems, taken = {}, {}
  local own = t.pkg == "" and "" or t.pkg .. "/"
  for _, f in ipairs(srcs) do
    local rel = f.short_path
    if rel:sub(1, #own) == own then rel = rel:sub(#own + 1) else rel = "_root/" .. rel end
    local stem = rel:gsub("%.[^./]+$", "")
    if taken[stem] then stem = rel end
    local n, try = 1, stem
    while taken[try] do n = n + 1; try = stem .. "." .. n end
    taken[try], stems[f] = true, try
  end
  return stems
end

-- Compile each source of the target; returns the object files.
local function compile(ctx, t, srcs, hdrs, info, copts, defines, includes)
  local cc = compiler(t)
  local objs = {}
  local flags = { "-iquote", ".", "-iquote", "cairn-out" }
  for _, d in ipairs(dedup(includes)) do
    flags[#flags + 1] = "-I" .. d
    flags[#flags + 1] = "-Icairn-out/" .. d
  end
  for _, d in ipairs(dedup(defines)) do flags[#flags + 1] = "-D" .. d end
  local stems = object_stems(t, srcs)
  for _, f in ipairs(srcs) do
    local stem = stems[f]
    local obj = ctx.declare_file("_objs/" .. t.name .. "/" .. stem .. ".o")
    local dep = ctx.declare_file("_objs/" .. t.name .. "/" .. stem .. ".d")
    local argv = { cc }
    for _, x in ipairs(flags) do argv[#argv + 1] = x end
    for _, x in ipairs(copts or {}) do argv[#argv + 1] = x end
    for _, x in ipairs { "-MD", "-MF", dep.path, "-c", f.path, "-o", obj.path } do
      argv[#argv + 1] = x
    end
    I.add_action {
      label = t.label, mnemonic = "CC", progress = obj.short_path, where = t.loc,
      argv = argv, env = { "CAIRN_CC_ID=" .. C.cc_id }, inputs = { f.path },
      pinputs = I.paths(hdrs), outputs = { obj.path, dep.path }, depfile = dep.path,
      flags = I.tag_flags(t.tags, 0),
    }
    objs[#objs + 1] = obj
  end
  return objs
end

-- Split a target's files into sources to compile and headers.
local function split(t, files)
  local srcs, hdrs = {}, {}
  for _, f in ipairs(files) do
    if is_src(f.path) then srcs[#srcs + 1] = f
    elseif is_hdr(f.path) then hdrs[#hdrs + 1] = f
    else fail_at(t.loc, fmt("%s: '%s' is neither a C source nor a header", t.label, f.path)) end
  end
  return srcs, hdrs
end

local function pkg_dirs(t, dirs)
  local out = {}
  for i, d in ipairs(dirs or {}) do
    if d:sub(1, 1) == "/" or d:find("..", 1, true) then
      fail_at(t.loc, fmt("%s: includes must stay inside the package: '%s'", t.label, d))
    end
    out[i] = (t.pkg == "" or d == ".") and (t.pkg == "" and d or t.pkg) or (t.pkg .. "/" .. d)
  end
  return out
end

local function append(a, b) for _, v in ipairs(b or {}) do a[#a + 1] = v end return a end

I.base.cc_library = make_rule({
  attrs = {
    srcs = attr.label_list {}, hdrs = attr.label_list {}, deps = attr.label_list {},
    copts = attr.string_list {}, defines = attr.string_list {},
    local_defines = attr.string_list {}, includes = attr.string_list {},
    linkopts = attr.string_list {},
  },
  impl = function(ctx)
    local t = I.current()
    local info = collect(t, ctx.attr.deps)
    local srcs, private = split(t, ctx.files.srcs)
    local _, pub = split(t, ctx.files.hdrs)
    local hdrs = append(append(append({}, pub), private), info.hdrs)
    local defines = append(append(append({}, ctx.attr.defines), info.defines),
      ctx.attr.local_defines)
    local includes = append(pkg_dirs(t, ctx.attr.includes), info.includes)
    local objs = compile(ctx, t, srcs, hdrs, info, ctx.attr.copts, defines, includes)
    local archive
    if #objs > 0 then
      archive = ctx.declare_file("lib" .. t.name .. ".a")
      local argv = { "ar", "rcsD", archive.path }
      for _, o in ipairs(objs) do argv[#argv + 1] = o.path end
      ctx.action { argv = argv, inputs = objs, outputs = { archive }, mnemonic = "AR" }
    end
    local cc = {
      hdrs = append(append({}, pub), info.hdrs),
      defines = append(append({}, ctx.attr.defines), info.defines),
      includes = append(pkg_dirs(t, ctx.attr.includes), info.includes),
      linkopts = append(append({}, ctx.attr.linkopts), info.linkopts),
      lib = { archive = archive, deps = info.libs, label = t.label },
    }
    return { files = archive and { archive } or {}, cc = cc }
  end,
}, "cc_library")

-- Archives in link order: each library before the libraries it uses.
local function link_order(libs)
  local order, seen = {}, {}
  local function visit(l)
    if seen[l] then return end
    seen[l] = true
    for _, d in ipairs(l.deps) do visit(d) end
    if l.archive then order[#order + 1] = l.archive end
  end
  for _, l in ipairs(libs) do visit(l) end
  local out = {}
  for i = #order, 1, -1 do out[#out + 1] = order[i] end
  return out
end

local function binary_impl(ctx)
  local t = I.current()
  local info = collect(t, ctx.attr.deps)
  local srcs, private = split(t, ctx.files.srcs)
  if #srcs == 0 then
    fail_at(t.loc, fmt("%s: a %s needs at least one C source in srcs", t.label, t.rule.kind))
  end
  local hdrs = append(append({}, private), info.hdrs)
  local defines = append(append(append({}, ctx.attr.defines), info.defines),
    ctx.attr.local_defines)
  local includes = append(pkg_dirs(t, ctx.attr.includes), info.includes)
  local objs = compile(ctx, t, srcs, hdrs, info, ctx.attr.copts, defines, includes)
  local bin = ctx.declare_file(t.name)
  local archives = link_order(info.libs)
  local argv = { compiler(t), "-o", bin.path }
  for _, o in ipairs(objs) do argv[#argv + 1] = o.path end
  for _, a in ipairs(archives) do argv[#argv + 1] = a.path end
  append(argv, ctx.attr.linkopts)
  append(argv, dedup(info.linkopts))
  local inputs = append(append({}, objs), archives)
  I.add_action {
    label = t.label, mnemonic = "Link", progress = bin.short_path, where = t.loc,
    argv = argv, env = { "CAIRN_CC_ID=" .. C.cc_id }, inputs = I.paths(inputs),
    outputs = { bin.path }, flags = I.tag_flags(t.tags, 0),
  }
  return { files = { bin }, executable = bin, runfiles = ctx.files.data or {} }
end

local bin_attrs = {
  srcs = attr.label_list {}, deps = attr.label_list {}, copts = attr.string_list {},
  defines = attr.string_list {}, local_defines = attr.string_list {},
  includes = attr.string_list {}, linkopts = attr.string_list {},
}
I.base.cc_binary = make_rule({ attrs = bin_attrs, impl = binary_impl, executable = true },
  "cc_binary")
I.base.cc_test = make_rule({ attrs = bin_attrs, impl = binary_impl, test = true }, "cc_test")

I.base.sh_test = make_rule({
  attrs = { srcs = attr.label_list { mandatory = true } },
  impl = function(ctx)
    local t = I.current()
    if #ctx.files.srcs ~= 1 then
      fail_at(t.loc, fmt("%s: sh_test takes exactly one script in srcs, not %d", t.label,
        #ctx.files.srcs))
    end
    local s = ctx.files.srcs[1]
    return { files = { s }, executable = s, runfiles = ctx.files.data or {} }
  end,
  test = true,
}, "sh_test")
