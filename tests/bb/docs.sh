# Black-box tests of the manual: every example in docs/*.md runs, in a
# throw-away workspace, and prints what the page says it prints; the man
# page renders; make install puts the binary and the man page in place.
#
# The convention in docs/*.md (docs/README.md says it to writers too):
#   <!-- example: NAME -->  starts an example: a fresh workspace (an empty
#                           WORKSPACE.lua) with a cache of its own; the
#                           blocks up to the next such line belong to it
#   ```LANG file=PATH       a file of the example's workspace: the block's
#                           text is written to PATH (a later block with the
#                           same PATH replaces it)
#   ```console              "$ COMMAND" lines, each run by bash from the
#                           workspace root (stdout and stderr together);
#                           the lines below a command are its whole output,
#                           where a line "..." stands for any number of
#                           lines and "..." inside a line for any text; a
#                           last line "(exit N)" is its exit status (else 0)
#   ```text                 not an example (a syntax, a layout): not run
# Any other block (```lua without file=, ```sh, a bare ```, a console
# block before the first example) fails the test: no example can be left
# unchecked. Each test_examples_PAGE checks one page; a page without its
# test fails test_every_page_has_its_test.

top=$(cd "$TESTS/.." && pwd)

# glob_of LINE: LINE as a bash pattern, literal but for "..." (any text).
glob_of() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\*/\\*}
	s=${s//\?/\\?}
	s=${s//\[/\\[}
	printf '%s' "${s//.../*}"
}

# fits I J: the expected lines want[I..] match the output lines got[J..].
fits() {
	local i=$1 j=$2 k
	if [ "$i" -eq "${#want[@]}" ]; then
		[ "$j" -eq "${#got[@]}" ]
		return
	fi
	if [ "${want[i]}" = "..." ]; then
		for ((k = j; k <= ${#got[@]}; k++)); do
			fits $((i + 1)) "$k" && return 0
		done
		return 1
	fi
	[ "$j" -lt "${#got[@]}" ] || return 1
	# shellcheck disable=SC2053
	[[ ${got[j]} == ${pats[i]} ]] || return 1
	fits $((i + 1)) $((j + 1))
}

# check_command WHERE CMD EXPECTED: run CMD in the example's workspace and
# compare its exit status and output with EXPECTED (lines).
check_command() {
	local where=$1 cmd=$2 expected=$3 code=0 status=0 line k
	want=() got=() pats=()
	if [ -n "$expected" ]; then
		mapfile -t want <<< "$expected"
	fi
	# trailing empty lines are not output ($(...) drops them too)
	while [ ${#want[@]} -gt 0 ] && [ -z "${want[-1]}" ]; do unset 'want[-1]'; done
	if [ ${#want[@]} -gt 0 ] && [[ ${want[-1]} =~ ^\(exit\ ([0-9]+)\)$ ]]; then
		code=${BASH_REMATCH[1]}
		unset 'want[-1]'
	fi
	# trailing blanks are not compared (editors strip them from pages)
	for line in "${want[@]}"; do pats+=("$(glob_of "${line%"${line##*[! ]}"}")"); done
	local out
	out=$(cd "$ex_root" && PATH="$ex_bin:$PATH" HOME="$ex_home" XDG_CACHE_HOME="$ex_home/cache" \
		timeout 120 bash -c "$cmd" 2>&1) || status=$?
	if [ -n "$out" ]; then
		mapfile -t got <<< "$out"
	fi
	for ((k = 0; k < ${#got[@]}; k++)); do got[k]=${got[k]%"${got[k]##*[! ]}"}; done
	if [ "$status" != "$code" ]; then
		printf '%s: $ %s\nexpected exit %s, got %s; output:\n%s\n' "$where" "$cmd" "$code" \
			"$status" "$out" >&2
		return 1
	fi
	if ! fits 0 0; then
		printf '%s: $ %s\n--- the page says:\n%s\n--- cairn printed:\n%s\n' "$where" "$cmd" \
			"$(printf '%s\n' "${want[@]}")" "$out" >&2
		return 1
	fi
}

# run_console PAGE LINE TEXT: the commands of a console block that starts
# at LINE of PAGE, in order.
run_console() {
	local page=$1 nr=$2 text=$3 cmd='' expected='' line have=0 where=''
	while IFS= read -r line; do
		nr=$((nr + 1))
		if [[ $line == '$ '* ]]; then
			if [ "$have" = 1 ]; then check_command "$where" "$cmd" "$expected" || return 1; fi
			cmd=${line#'$ '} expected='' have=1 where="$page:$nr"
		elif [ "$have" = 0 ]; then
			echo "$page:$nr: a console block starts with a '\$ ' command" >&2
			return 1
		else
			expected+="$line"$'\n'
		fi
	done <<< "$text"
	[ "$have" = 0 ] || check_command "$where" "$cmd" "$expected"
}

# new_example NAME: a fresh workspace for the example NAME.
new_example() {
	n_examples=$((n_examples + 1))
	local d
	d=$(mktemp -d "$PWD/$1.XXXXXX")
	ex_root="$d/ws" ex_home="$d/home" ex_bin="$d/bin"
	mkdir -p "$ex_root" "$ex_home" "$ex_bin"
	: > "$ex_root/WORKSPACE.lua"
	ln -s "$CAIRN" "$ex_bin/cairn"
}

# do_block PAGE LINE INFO TEXT: one fenced block of a page.
do_block() {
	local where="$1:$2" info=$3 text=$4
	case $info in
	*" file="*)
		local path=${info#* file=}
		path=${path%% *}
		case $path in /* | *..*) echo "$where: file=$path leaves the workspace" >&2; return 1 ;; esac
		[ -n "$ex_root" ] || { echo "$where: a file block before any <!-- example: -->" >&2; return 1; }
		mkdir -p "$(dirname "$ex_root/$path")"
		printf '%s\n' "$text" > "$ex_root/$path"
		;;
	console)
		[ -n "$ex_root" ] || { echo "$where: a console block before any <!-- example: -->" >&2; return 1; }
		run_console "$1" "$2" "$text" || return 1
		;;
	text) ;;
	*)
		echo "$where: block '\`\`\`$info' is neither an example (file=PATH, console) nor text" >&2
		return 1
		;;
	esac
}

# examples PAGE: run every example of docs/PAGE; at least one must run.
examples() {
	set +x # the trace of the loops would bury the message that matters
	local page="docs/$1" md="$top/docs/$1" line info='' text='' start=0 in=0 nr=0 nl=0
	local ex_root='' ex_home='' ex_bin='' n_examples=0
	[ -f "$md" ] || { echo "missing $page" >&2; return 1; }
	while IFS= read -r line || [ -n "$line" ]; do
		nr=$((nr + 1))
		if [ "$in" = 1 ]; then
			if [[ $line == '```' ]]; then
				in=0
				do_block "$page" "$start" "$info" "$text" || return 1
			else
				[ "$nl" = 0 ] || text+=$'\n'
				text+=$line nl=$((nl + 1))
			fi
		elif [[ $line == '```'* ]]; then
			in=1 start=$nr info=${line#'```'} text='' nl=0
		elif [[ $line =~ ^\<\!--\ example:\ ([a-z0-9_-]+)\ --\>$ ]]; then
			new_example "${BASH_REMATCH[1]}"
		fi
	done < "$md"
	[ "$in" = 0 ] || { echo "$page:$start: unterminated block" >&2; return 1; }
	[ "$n_examples" -gt 0 ] || { echo "$page: no examples" >&2; return 1; }
	echo "$page: $n_examples examples ran"
}

test_examples_readme() { examples README.md; }
test_examples_commands() { examples commands.md; }
test_examples_language() { examples language.md; }
test_examples_rules() { examples rules.md; }
test_examples_custom_rules() { examples custom-rules.md; }
test_examples_sandbox() { examples sandbox.md; }
test_examples_files() { examples files.md; }
test_examples_deploy() { examples deploy.md; }
test_examples_policy() { examples policy.md; }

test_every_page_has_its_test() {
	local page
	for page in "$top"/docs/*.md; do
		grep -q "^test_examples_[a-z_]*() { examples $(basename "$page"); }" "$TESTS/bb/docs.sh" ||
			{ echo "docs/$(basename "$page") has no test_examples_* in tests/bb/docs.sh" >&2; return 1; }
	done
}

# The checker itself: a wrong output, a wrong exit status and an unchecked
# block each fail.
test_a_broken_example_fails() {
	mkdir -p fake/docs
	local ok='<!-- example: ok -->
```console
$ echo one; echo two; echo three
one
...
three
$ exit 3
(exit 3)
```'
	printf '%s\n' "$ok" > fake/docs/ok.md
	top=$PWD/fake
	examples ok.md
	printf '%s\n' "$ok" | sed 's/^three$/four/' > fake/docs/bad_output.md
	fails examples bad_output.md
	printf '%s\n' "$ok" | sed 's/^(exit 3)$/(exit 2)/' > fake/docs/bad_exit.md
	fails examples bad_exit.md
	printf '%s\n\n```lua\nprint(1)\n```\n' "$ok" > fake/docs/unchecked.md
	fails examples unchecked.md
	printf '<!-- example: x -->\n```lua file=p/BUILD.lua\ngenrule { name = "y", outs = { "y.txt" }, cmd = "exit 1" }\n```\n```console\n$ cairn build\n...\n```\n' > fake/docs/fails.md
	fails examples fails.md
}

# make, run from the repository top or with its Makefile, without what the
# make that runs the suite passes down (its jobserver, SANITIZE=...).
top_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"; }

# man_text PAGE: the man page as plain text, one paragraph a line.
man_text() { groff -man -Tascii -P-cbou -rLL=1000n -rHY=0 "$1" 2>&1; }

test_man_page_renders() {
	if ! command -v groff >/dev/null; then
		echo "no groff here (Debian: groff-base): docs/cairn.1 not rendered" >&2
		grep -q '^\.TH CAIRN 1 ' "$top/docs/cairn.1"
		return
	fi
	run 0 groff -man -Tutf8 -ww -z "$top/docs/cairn.1"
	eq "$out" ""
	if command -v man >/dev/null; then
		run 0 env MANWIDTH=80 man -l "$top/docs/cairn.1"
		has "cairn build [FLAGS] [PATTERN...]"
	fi
}

# The man page and docs/commands.md name every command and every flag that
# cairn --help lists.
test_man_page_and_manual_name_every_command_and_flag() {
	command -v groff >/dev/null || return 0
	run 0 cairn --help
	local help=$out man cmds flags c f
	man=$(man_text "$top/docs/cairn.1")
	cmds=$(printf '%s\n' "$help" | sed -n 's/^  \([a-z]*\) .*/\1/p')
	flags=$(printf '%s\n' "$help" | grep -oE -- '(^|[ ,/([])--?[a-z][a-z_-]*' | sed 's/^[] ,/([]//' | sort -u)
	[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 8 ]
	[ "$(printf '%s\n' "$flags" | wc -l)" -ge 12 ]
	for c in $cmds; do
		out=$man; has "cairn $c"
		grep -q "^## .*\`cairn $c[ \`]" "$top/docs/commands.md" ||
			{ echo "docs/commands.md has no section on cairn $c" >&2; return 1; }
	done
	for f in $flags; do
		out=$man; has "$f"
		grep -q "^| .*\`$f[ \`]" "$top/docs/commands.md" ||
			{ echo "the flags of docs/commands.md lack $f" >&2; return 1; }
	done
}

# make install-only PREFIX=... (and DESTDIR=...): the binary that is there
# and the man page, nothing rebuilt; make install is the same after make.
test_make_install() {
	local before
	before=$(stat -c '%i %Y' "$top/cairn")
	run 0 top_make -C "$top" install-only PREFIX="$PWD/prefix"
	eq "$(stat -c '%i %Y' "$top/cairn")" "$before"
	cmp "$PWD/prefix/bin/cairn" "$top/cairn"
	cmp "$PWD/prefix/share/man/man1/cairn.1" "$top/docs/cairn.1"
	[ -x "$PWD/prefix/bin/cairn" ]
	eq "$(stat -c %a "$PWD/prefix/share/man/man1/cairn.1")" 644
	run 0 "$PWD/prefix/bin/cairn" --version
	has "cairn "
	if command -v man >/dev/null; then
		run 0 env MANPATH="$PWD/prefix/share/man" man -w cairn
		eq "$out" "$PWD/prefix/share/man/man1/cairn.1"
	fi
	run 0 top_make -C "$top" install-only DESTDIR="$PWD/stage" PREFIX=/opt/cairn
	[ -x "$PWD/stage/opt/cairn/bin/cairn" ]
	[ -f "$PWD/stage/opt/cairn/share/man/man1/cairn.1" ]
	# make install is make's cairn (the rename below), then the same
	run 0 top_make -C "$top" -n install PREFIX="$PWD/prefix2"
	has "mv -f cairn.tmp cairn"
	has "install -m 0755 cairn \"$PWD/prefix2/bin/cairn\""
	has "install -m 0644 docs/cairn.1 \"$PWD/prefix2/share/man/man1/cairn.1\""
}

# make replaces ./cairn by a rename: a cairn that runs (here a copy of
# sleep standing in for a cairn build --watch) does not make it fail with
# "Text file busy". Run on a scratch directory with the repository's
# Makefile; -o keeps make from looking at the objects behind B/cairn.
test_make_replaces_cairn_by_rename() {
	mkdir -p fake
	cp "$(command -v sleep)" cairn
	./cairn 60 &
	local pid=$!
	printf '#!/bin/sh\necho new\n' > fake/cairn
	chmod +x fake/cairn
	run 0 top_make -f "$top/Makefile" -o fake/cairn B=fake cairn
	kill "$pid"
	eq "$(./cairn)" new
	[ ! -e cairn.tmp ]
}
