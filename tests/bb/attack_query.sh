# Black-box tests of cairn query on graph shapes that break naive walks:
# a diamond (two paths to one target), and a chain long enough that a
# walk per target of the universe, or a recursion per edge, shows.

# //d:top needs //d:l and //d:r, which both need //d:base (from
# d/in.txt); //d:side stands apart; //e:far needs //d:top from another
# package.
diamond() {
	ws
	echo x > d/in.txt 2>/dev/null || { mkdir -p d; echo x > d/in.txt; }
	write d/BUILD.lua <<'L'
genrule { name = "base", srcs = { "in.txt" }, outs = { "base.txt" }, cmd = "cp $< $@" }
genrule { name = "l", srcs = { ":base" }, outs = { "l.txt" }, cmd = "cp $< $@" }
genrule { name = "r", srcs = { ":base" }, outs = { "r.txt" }, cmd = "cp $< $@" }
genrule { name = "top", srcs = { ":l", ":r" }, outs = { "top.txt" }, cmd = "cat $(SRCS) > $@" }
genrule { name = "side", outs = { "side.txt" }, cmd = "echo > $@" }
L
	write e/BUILD.lua <<'L'
genrule { name = "far", srcs = { "//d:top" }, outs = { "far.txt" }, cmd = "cp $< $@" }
L
}

test_rdeps_diamond() {
	diamond
	run 0 cairn query 'rdeps(//..., //d:base)'
	eq "$out" "$(printf '//d:base\n//d:l\n//d:r\n//d:top\n//e:far')"
	run 0 cairn query 'rdeps(//..., //d:l)'
	eq "$out" "$(printf '//d:l\n//d:top\n//e:far')"
	# a source file is reached through the targets that read it
	run 0 cairn query 'rdeps(//..., //d:in.txt)'
	eq "$out" "$(printf '//d:base\n//d:l\n//d:r\n//d:top\n//e:far')"
	# only targets of the universe are printed, but paths may leave it
	run 0 cairn query 'rdeps(//e:all, //d:base)'
	eq "$out" "//e:far"
	run 0 cairn query 'rdeps(deps(//d:l), //d:base)'
	eq "$out" "$(printf '//d:base\n//d:l')"
	# several targets to reach: each target of the universe reaches itself
	run 0 cairn query 'rdeps(//d:all, //d:all)'
	eq "$out" "$(printf '//d:base\n//d:l\n//d:r\n//d:side\n//d:top')"
	run 0 cairn query 'rdeps(//..., //d:side)'
	eq "$out" "//d:side"
	run 0 cairn query 'rdeps(//d:side, //d:base)'
	eq "$out" ""
	run 0 cairn query 'kind(genrule, rdeps(//..., //d:r))'
	eq "$out" "$(printf '//d:r\n//d:top\n//e:far')"
	run 0 cairn query 'deps(rdeps(//d:all, //d:r))'
	eq "$out" "$(printf '//d:base\n//d:in.txt\n//d:l\n//d:r\n//d:top')"
}

# 20,000 genrules in one package, //p:rI needing //p:rI-1.
long_chain() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "r0", outs = { "r0.txt" }, cmd = "echo 0 > $@" }
for i = 1, 19999 do
  genrule { name = "r" .. i, srcs = { ":r" .. (i - 1) }, outs = { "r" .. i .. ".txt" }, cmd = "cat $< > $@" }
end
L
}

# Asking each target of the universe whether its closure holds X took
# more than 120 s here; one walk takes well under a second.
test_rdeps_long_chain_is_linear() {
	long_chain
	run 0 timeout 60 "$CAIRN" query 'rdeps(//..., //p:r0)'
	eq "$(printf '%s\n' "$out" | wc -l)" 20000
	eq "$(printf '%s\n' "$out" | head -n 1)" "//p:r0"
	eq "$(printf '%s\n' "$out" | tail -n 1)" "//p:r9999"
	run 0 timeout 60 "$CAIRN" query 'rdeps(//..., //p:r19990)'
	eq "$out" "$(seq -f '//p:r%g' 19990 19999)"
	run 0 timeout 60 "$CAIRN" query 'deps(//p:r19999)'
	eq "$(printf '%s\n' "$out" | wc -l)" 20000
	eq "$(printf '%s\n' "$out" | head -n 1)" "//p:r0"
	eq "$(printf '%s\n' "$out" | tail -n 1)" "//p:r9999"
}
