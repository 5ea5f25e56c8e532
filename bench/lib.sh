# bench/lib.sh: what the bench scripts share (sourced; they define log).

# write_report OUT BODY: BODY into OUT, whole or not at all (a temp file
# beside it, then a rename). Meanwhile the temp file's name is in
# $report, for the script's exit trap to remove.
write_report() {
	mkdir -p "$(dirname "$1")"
	report=$(mktemp "$1.XXXXXX")
	printf '%s' "$2" >"$report"
	chmod 644 "$report"
	mv -f "$report" "$1"
	report=""
	log "written to $1"
}
