-- rules/stamp.lua
local M = {}
M.stamp = rule {
  attrs = { srcs = attr.label_list{}, suffix = attr.string{ default = "!" } },
  impl = function(ctx)
    local out = ctx.declare_file(ctx.label.name .. ".txt")
    ctx.action {
      argv = { "sh", "-c", 'cat "$@" > "$OUT"', "sh", table.unpack(ctx.paths(ctx.files.srcs)) },
      inputs = ctx.files.srcs, outputs = { out },
      env = { OUT = out.path }, mnemonic = "Stamp",
    }
    return { files = { out } }
  end,
}
-- a macro is a plain function that calls rules: a composite target
function M.stamped_pair(args)
  M.stamp { name = args.name .. "_a", srcs = args.srcs }
  M.stamp { name = args.name .. "_b", srcs = { ":" .. args.name .. "_a" } }
end
return M
