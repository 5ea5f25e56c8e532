# Black-box property test of incrementality: a seeded random workspace of
# ~40 packages and ~400 genrules, then ~25 random edits. After each edit,
# `cairn build` in the workspace (cache A, kept across edits) must give the
# same cairn-out as a clean build of a copy of the sources with an empty
# cache (cache B), and must run exactly the actions whose key is new:
#   - a touch without change runs nothing;
#   - every --explain reason is `new`, `command changed` or `input changed:
#     X` where X really changed (never `no cached result`/`output missing`);
#   - every executed action is a root of the edit (the changed file's direct
#     consumers, the edited or added rule, the glob rules of the package)
#     or transitively downstream of one;
#   - the executed set equals the set of actions whose model key (command,
#     sources, outputs, input digests) was never seen before by cache A:
#     nothing runs that early cutoff should have stopped, and nothing is
#     taken from the cache that was never computed.
# The model (a small python3 program) generates the workspace and the edits
# and knows the graph; EDITS_SEED and EDITS_STEPS override the defaults.

# edits_model: the python3 model, written to ./model.py.
edits_model() {
	cat > model.py <<'PY'
import hashlib, json, os, random, re, shutil, sys

KINDS = {
    # name: (command, needs exactly one source, only on source files)
    "cat":   ("cat $(SRCS) > $@", False, True),
    "upper": ("tr a-z A-Z < $< > $@", True, True),
    "md5":   ("cat $(SRCS) | sort | md5sum > $@", False, False),
    "wc":    ("wc -c $(SRCS) > $@", False, False),
    "grep1": ("grep -c KEY $< > $@ || true", True, False),
    "grepn": ("cat $(SRCS) | grep -c KEY > $@ || true", False, False),
    "lines": ("cat $(SRCS) | wc -l > $@", False, False),
    "head":  ("sort $(SRCS) | head -n 2 > $@", False, False),
}
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta"]
GROUPS = [("base", 8), ("lib", 14), ("svc", 10), ("app", 8)]


def line(rng):
    w = rng.choice(WORDS)
    if rng.random() < 0.25:
        w = "KEY"
    return "%s %d" % (w, rng.randrange(100))


def text(rng, n):
    return "".join(line(rng) + "\n" for _ in range(n))


def out_path(pkg, name):
    return "cairn-out/%s/%s.out" % (pkg, name)


class Model:
    def __init__(self, st):
        self.st = st
        self.pkgs = st["pkgs"]

    # -- the graph -------------------------------------------------------
    def order(self):
        return sorted(self.pkgs, key=lambda p: self.pkgs[p]["order"])

    def rules(self):
        for p in self.order():
            for r in self.pkgs[p]["rules"]:
                yield p, r

    def glob_files(self, p):
        pat = self.pkgs[p]["glob"]
        fs = [f for f in self.pkgs[p]["files"] if f.endswith(".txt")]
        if pat == "*.txt":
            fs = [f for f in fs if "/" not in f]
        return sorted(fs)

    def srcs(self, p, r):
        """Input paths of rule r of package p, in command order."""
        if r["glob"]:
            return ["%s/%s" % (p, f) for f in self.glob_files(p)]
        out = []
        for s in r["srcs"]:
            out.append("%s/%s" % (p, s[1]) if s[0] == "f" else out_path(s[1], s[2]))
        return out

    def label(self, p, r):
        return "//%s:%s" % (p, r["name"])

    def rdeps(self):
        """label -> labels of the rules that read its output."""
        rd = {}
        for p, r in self.rules():
            for s in r["srcs"]:
                if s[0] == "r":
                    rd.setdefault("//%s:%s" % (s[1], s[2]), []).append(self.label(p, r))
        return rd

    def closure(self, roots):
        """Labels that read a root file or are a root label, and everything downstream."""
        roots = set(roots)
        todo = [self.label(p, r) for p, r in self.rules()
                if self.label(p, r) in roots or roots & set(self.srcs(p, r))]
        rd, seen = self.rdeps(), set()
        while todo:
            l = todo.pop()
            if l not in seen:
                seen.add(l)
                todo.extend(rd.get(l, []))
        return seen

    # -- writing the workspace -------------------------------------------
    def build_lua(self, p):
        out = ["-- package %s (generated)" % p]
        for r in self.pkgs[p]["rules"]:
            if r["glob"]:
                srcs = 'glob { "%s" }' % self.pkgs[p]["glob"]
            else:
                items = []
                for s in r["srcs"]:
                    if s[0] == "f":
                        items.append(s[1])
                    elif s[1] == p:
                        items.append(":" + s[2])
                    else:
                        items.append("//%s:%s" % (s[1], s[2]))
                srcs = "{ %s }" % ", ".join('"%s"' % i for i in items)
            out.append('genrule {\n  name = "%s",\n  srcs = %s,\n  outs = { "%s.out" },\n  cmd = "%s",\n}'
                       % (r["name"], srcs, r["name"], KINDS[r["kind"]][0]))
        return "\n".join(out) + "\n"

    def write_pkg(self, w, p):
        d = os.path.join(w, p)
        os.makedirs(d, exist_ok=True)
        for f, c in self.pkgs[p]["files"].items():
            write(os.path.join(d, f), c)
        write(os.path.join(d, "BUILD.lua"), self.build_lua(p))

    # -- generating ------------------------------------------------------
    def fresh(self, prefix):
        self.st["next"] += 1
        return "%s%d" % (prefix, self.st["next"])

    def gen_rule(self, rng, p, glob=False):
        pk = self.pkgs[p]
        name = self.fresh("g")
        if glob:
            kind = rng.choice([k for k, v in KINDS.items() if not v[1]])
            return {"name": name, "kind": kind, "srcs": [], "glob": True}
        srcs = []
        cs = sorted(f for f in pk["files"] if f.endswith(".c"))
        srcs += [["f", f] for f in rng.sample(cs, rng.randint(1 if cs else 0, min(2, len(cs))))]
        if "shared.h" in pk["files"] and rng.random() < 0.5:
            srcs.append(["f", "shared.h"])
        local = [r["name"] for r in pk["rules"]]
        if local and rng.random() < 0.6:
            srcs += [["r", p, n] for n in rng.sample(local, rng.randint(1, min(2, len(local))))]
        earlier = [q for q in self.order() if self.pkgs[q]["order"] < pk["order"]
                   and self.pkgs[q]["rules"]]
        if earlier and rng.random() < 0.7:
            for q in rng.sample(earlier, rng.randint(1, min(2, len(earlier)))):
                srcs.append(["r", q, rng.choice(self.pkgs[q]["rules"])["name"]])
        if not srcs:
            srcs.append(["f", "shared.h"])
        rng.shuffle(srcs)
        return {"name": name, "kind": rng.choice(self.kinds_for(srcs)), "srcs": srcs, "glob": False}

    def kinds_for(self, srcs, glob=False):
        only_files = not glob and all(s[0] == "f" for s in srcs)
        return [k for k, (_, one, files) in KINDS.items()
                if (not one or (not glob and len(srcs) == 1)) and (not files or only_files or glob)]

    def gen_pkg(self, rng, p, nested_files=None):
        order = max([q["order"] for q in self.pkgs.values()] + [-1]) + 1
        files = {"shared.h": "#pragma once\n" + text(rng, 3)}
        for i in range(rng.randint(3, 5)):
            files["s%d.c" % i] = text(rng, rng.randint(3, 7))
        pat = None
        if nested_files is not None or rng.random() < 0.35:
            pat = "*.txt" if nested_files is not None or rng.random() < 0.5 else "**/*.txt"
            for i in range(rng.randint(2, 4)):
                files["t%d.txt" % i] = text(rng, rng.randint(2, 5))
            if pat == "**/*.txt":
                for i in range(rng.randint(1, 3)):
                    files["data/d%d.txt" % i] = text(rng, rng.randint(2, 4))
        files.update(nested_files or {})
        self.pkgs[p] = {"order": order, "files": files, "rules": [], "glob": pat}
        for i in range(rng.randint(7, 13)):
            self.pkgs[p]["rules"].append(self.gen_rule(rng, p, glob=pat is not None and i < 2))


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load(path):
    with open(path) as f:
        return Model(json.load(f))


def save(m, path):
    with open(path + ".tmp", "w") as f:
        json.dump(m.st, f, sort_keys=True)
    os.replace(path + ".tmp", path)


def init(w, state, seed):
    rng = random.Random(seed)
    m = Model({"pkgs": {}, "next": 0, "seed": seed, "seen": [], "prev": {},
               "removed_outs": [], "history": [], "old": {}, "edit": {"kind": "init", "roots": []}})
    for g, n in GROUPS:
        for i in range(n):
            m.gen_pkg(rng, "%s/%s%02d" % (g, g[0], i))
    write(os.path.join(w, "WORKSPACE.lua"), "")
    for p in m.pkgs:
        m.write_pkg(w, p)
    save(m, state)
    print("init: %d packages, %d genrules" % (len(m.pkgs), sum(1 for _ in m.rules())))


# -- edits ---------------------------------------------------------------
def edit(w, state, step):
    m = load(state)
    rng = random.Random(m.st["seed"] * 1000 + step)
    # every kind of edit once per round of len(EDITS) edits, in a shuffled
    # order; one that does not apply (nothing to delete) is replaced
    kinds = sorted(EDITS)
    random.Random(m.st["seed"] * 7 + (step - 1) // len(kinds)).shuffle(kinds)
    kind = kinds[(step - 1) % len(kinds)]
    while True:
        res = EDITS[kind](m, w, rng)
        if res is not None:
            break
        kind = rng.choice(sorted(EDITS))
    desc, roots = res
    m.st["edit"] = {"kind": kind, "roots": roots}
    m.st["history"].append("%d %s: %s" % (step, kind, desc))
    save(m, state)
    print("%s: %s" % (kind, desc))


def all_files(m, pred):
    return [(p, f) for p in m.order() for f in sorted(m.pkgs[p]["files"]) if pred(f)]


def change_text(rng, old):
    lines = old.splitlines()
    how = rng.choice(["append_key", "append_other", "reverse", "same_length"])
    if how == "append_key":
        lines.append("KEY %d" % rng.randrange(100))
    elif how == "append_other":
        lines.append("%s %d" % (rng.choice(WORDS), rng.randrange(100)))
    elif how == "reverse" and len(lines) > 1 and lines != lines[::-1]:
        lines = lines[::-1]
    else:
        how = "same_length"
        i = rng.randrange(len(lines))
        lines[i] = lines[i][:-1] + ("x" if lines[i][-1] != "x" else "y")
    return how, "".join(l + "\n" for l in lines)


def e_touch(m, w, rng):
    c = all_files(m, lambda f: True)
    p, f = rng.choice(c)
    path = os.path.join(w, p, f) if rng.random() < 0.8 else os.path.join(w, p, "BUILD.lua")
    how = rng.choice(["utime", "rewrite", "replace"])
    if how == "utime":  # a new mtime
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_007))
    else:
        with open(path) as f:
            c = f.read()
        if how == "rewrite":  # the same bytes written again: new mtime and ctime
            write(path, c)
        else:  # an identical copy renamed over it: a new inode too
            write(path + ".new", c)
            os.replace(path + ".new", path)
    return "%s %s" % (how, os.path.relpath(path, w)), []


def e_change(m, w, rng, header):
    c = all_files(m, (lambda f: f == "shared.h") if header else (lambda f: f != "shared.h"))
    read = {s for p, r in m.rules() for s in m.srcs(p, r)}
    if rng.random() < 0.9:  # mostly a file that some action reads
        c = [(p, f) for p, f in c if "%s/%s" % (p, f) in read] or c
    edited = [(p, f) for p, f in c if "%s/%s" % (p, f) in m.st["old"]]
    if edited and rng.random() < 0.35:
        # back to what an earlier build saw: its actions come from the cache
        p, f = rng.choice(edited)
        how, new = "revert", m.st["old"]["%s/%s" % (p, f)]
    else:
        p, f = rng.choice(c)
        how, new = change_text(rng, m.pkgs[p]["files"][f])
    if new == m.pkgs[p]["files"][f]:
        return None
    m.st["old"]["%s/%s" % (p, f)] = m.pkgs[p]["files"][f]
    m.pkgs[p]["files"][f] = new
    write(os.path.join(w, p, f), new)
    return "%s %s/%s" % (how, p, f), ["%s/%s" % (p, f)]


def e_cmd(m, w, rng):
    p, r = rng.choice(list(m.rules()))
    ks = [k for k in m.kinds_for(r["srcs"], r["glob"]) if k != r["kind"]]
    if not ks:
        return None
    old, r["kind"] = r["kind"], rng.choice(ks)
    m.write_pkg(w, p)
    return "%s: %s -> %s" % (m.label(p, r), old, r["kind"]), [m.label(p, r)]


def e_add_rule(m, w, rng):
    p = rng.choice(m.order())
    r = m.gen_rule(rng, p, glob=m.pkgs[p]["glob"] is not None and rng.random() < 0.3)
    m.pkgs[p]["rules"].append(r)
    m.write_pkg(w, p)
    return "%s %s <- %s" % (m.label(p, r), r["kind"], "glob" if r["glob"] else r["srcs"]), [m.label(p, r)]


def e_remove_rule(m, w, rng):
    rd = m.rdeps()
    c = [(p, r) for p, r in m.rules() if m.label(p, r) not in rd]
    p, r = rng.choice(c)
    m.pkgs[p]["rules"].remove(r)
    m.st["removed_outs"].append(out_path(p, r["name"]))
    m.write_pkg(w, p)
    return m.label(p, r), []


def glob_pkgs(m):
    return [p for p in m.order() if m.pkgs[p]["glob"]]


def e_add_txt(m, w, rng):
    p = rng.choice(glob_pkgs(m))
    sub = "data/" if (m.pkgs[p]["glob"] == "**/*.txt" and p + "/data" not in m.pkgs
                      and rng.random() < 0.5) else ""
    f = sub + m.fresh("n") + ".txt"
    m.pkgs[p]["files"][f] = text(rng, rng.randint(1, 4))
    write(os.path.join(w, p, f), m.pkgs[p]["files"][f])
    return "%s/%s" % (p, f), [m.label(p, r) for r in m.pkgs[p]["rules"] if r["glob"]]


def e_delete_txt(m, w, rng):
    c = [(p, f) for p in glob_pkgs(m) for f in m.glob_files(p)
         if len([g for g in m.glob_files(p) if "/" not in g and g != f]) >= 1]
    if not c:
        return None
    p, f = rng.choice(c)
    del m.pkgs[p]["files"][f]
    os.unlink(os.path.join(w, p, f))
    return "%s/%s" % (p, f), [m.label(p, r) for r in m.pkgs[p]["rules"] if r["glob"]]


def e_add_pkg(m, w, rng):
    # Sometimes the new package takes over the data/ directory of a package
    # that globs **/*.txt: those files leave the parent's glob.
    hosts = [p for p in glob_pkgs(m) if m.pkgs[p]["glob"] == "**/*.txt"
             and any(f.startswith("data/") for f in m.pkgs[p]["files"])]
    roots = []
    if hosts and rng.random() < 0.4:
        host = rng.choice(hosts)
        p = host + "/data"
        moved = {f[5:]: c for f, c in m.pkgs[host]["files"].items() if f.startswith("data/")}
        for f in moved:
            del m.pkgs[host]["files"]["data/" + f]
        roots = [m.label(host, r) for r in m.pkgs[host]["rules"] if r["glob"]]
    else:
        moved, p = None, "%s/%s" % (rng.choice(["lib", "svc", "app", "new"]), m.fresh("n"))
    m.gen_pkg(rng, p, nested_files=moved)
    m.write_pkg(w, p)
    return "//%s (%d genrules)" % (p, len(m.pkgs[p]["rules"])), roots + [m.label(p, r) for r in m.pkgs[p]["rules"]]


def e_delete_pkg(m, w, rng):
    rd = m.rdeps()
    c = [p for p in m.order()
         if not any(q.startswith(p + "/") for q in m.pkgs)
         and all(l.startswith("//%s:" % p) for r in m.pkgs[p]["rules"]
                 for l in rd.get(m.label(p, r), []))]
    if not c:
        return None
    p = rng.choice(c)
    m.st["removed_outs"] += [out_path(p, r["name"]) for r in m.pkgs[p]["rules"]]
    del m.pkgs[p]
    shutil.rmtree(os.path.join(w, p))
    return "//" + p, []


EDITS = {
    "touch": e_touch,
    "source": lambda m, w, rng: e_change(m, w, rng, False),
    "header": lambda m, w, rng: e_change(m, w, rng, True),
    "cmd": e_cmd, "add_rule": e_add_rule, "remove_rule": e_remove_rule,
    "add_txt": e_add_txt, "delete_txt": e_delete_txt,
    "add_pkg": e_add_pkg, "delete_pkg": e_delete_pkg,
}


# -- checking a build ----------------------------------------------------
def history(state):
    m = load(state)
    print("edit history (seed %d):" % m.st["seed"])
    print("\n".join("  " + h for h in m.st["history"]) or "  (none)")


def info(state, w, stale):
    """Print the number of actions and the last edit's kind; write to the
    file stale the outputs of removed targets still in w/cairn-out."""
    m = load(state)
    with open(stale, "w") as f:
        for o in m.st["removed_outs"]:
            if os.path.exists(os.path.join(w, o)):
                f.write("./%s\n" % o[len("cairn-out/"):])
    print(sum(1 for _ in m.rules()), m.st["edit"]["kind"])


def check(w, ref, state, explain_file):
    """The build in w after the last edit ran exactly what it should."""
    m = load(state)
    ek, roots = m.st["edit"]["kind"], m.st["edit"]["roots"]
    errs = []
    executed, last = {}, ""
    with open(explain_file) as f:
        for l in f:
            last = l.strip() or last
            mt = re.match(r"^explain: (//\S+) (\S+): (.*)$", l.rstrip("\n"))
            if mt:
                if mt.group(1) in executed:
                    errs.append("%s explained twice" % mt.group(1))
                executed[mt.group(1)] = mt.group(3)
    seen, prev = set(m.st["seen"]), m.st["prev"]
    keys, cur, expected = {}, {}, set()
    for p, r in m.rules():
        l, srcs = m.label(p, r), m.srcs(p, r)
        ins = {s: sha(os.path.join(ref if s.startswith("cairn-out/") else w, s)) for s in srcs}
        cur[l] = ins
        keys[l] = hashlib.sha256(json.dumps(
            [KINDS[r["kind"]][0], srcs, out_path(p, r["name"]), sorted(ins.items())]).encode()).hexdigest()
        if keys[l] not in seen:
            expected.add(l)
    want = "cairn: %d actions: %d executed, %d cached, 0 failed in " % (
        len(cur), len(executed), len(cur) - len(executed))
    if not last.startswith(want):
        errs.append("the last line is '%s', wanted '%s...'" % (last, want))
    for l in sorted(set(executed) - set(cur)):
        errs.append("%s ran but is not in the graph" % l)
    for l in sorted(set(executed) & set(cur) - expected):
        errs.append("%s ran (%s), but its command and inputs were built before: early cutoff or cache missed"
                    % (l, executed[l]))
    for l in sorted(expected - set(executed)):
        errs.append("%s did not run, but its command and inputs are new" % l)
    for l, why in sorted(executed.items()):
        if why in ("new", "command changed"):
            continue
        if not why.startswith("input changed: "):
            errs.append("%s ran for a bad reason: %s" % (l, why))
            continue
        x, before, now = why[len("input changed: "):], prev.get(l, {}), cur.get(l, {})
        if before.get(x) == now.get(x):
            errs.append("%s ran for '%s', but %s did not change (before %s, now %s)"
                        % (l, why, x, before.get(x), now.get(x)))
    if ek == "touch" and executed:
        errs.append("a touch without change ran %d actions" % len(executed))
    if ek != "init":
        down = m.closure(roots)
        for l in sorted(set(executed) - down):
            errs.append("%s ran, but is not downstream of the edit's roots %s" % (l, roots))
    if errs:
        print("after edit %s (%d actions ran):" % (m.st["history"][-1] if m.st["history"] else "init",
                                                   len(executed)))
        print("\n".join("  " + e for e in errs[:20]))
        if len(errs) > 20:
            print("  ... and %d more" % (len(errs) - 20))
        history(state)
        sys.exit(1)
    m.st["seen"] = sorted(seen | set(keys.values()))
    m.st["prev"] = cur
    save(m, state)
    print("%s: %d ran, as the model predicts" % (ek, len(executed)))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"init": lambda: init(args[0], args[1], int(args[2])),
     "edit": lambda: edit(args[0], args[1], int(args[2])),
     "info": lambda: info(*args),
     "history": lambda: history(args[0]),
     "check": lambda: check(*args)}[cmd]()
PY
}

# edits_build: build the workspace w with cache A, build a copy of its
# sources from scratch with a fresh cache B in ref, compare, check the model.
edits_build() {
	local n kind
	cd w
	run 0 cairn build --explain
	cd ..
	printf '%s\n' "$out" > explain.txt
	read -r n kind < <(python3 model.py info state.json w stale.txt)
	if [ "$kind" = touch ]; then summary 0 "$n" 0; fi
	rm -rf ref cacheB
	mkdir ref
	for f in w/* w/.[!.]*; do
		case ${f#w/} in cairn-out | .cairn) ;; *) cp -r "$f" ref/ ;; esac
	done
	cd ref
	# the reference runs unsandboxed: faster, and independent of the sandbox
	run 0 cairn build --cache-dir ../cacheB --sandbox=none
	summary "$n" 0 0
	cd ..
	# byte-identical to the clean build's, with the outputs of removed
	# targets and packages gone (cairn prunes them after a //... build)
	[ ! -s stale.txt ] || { echo "stale outputs left:" >&2; cat stale.txt >&2; python3 model.py history state.json >&2; return 1; }
	tree_sum w/cairn-out > sum.w
	tree_sum ref/cairn-out > sum.ref
	if ! diff -u sum.ref sum.w > sum.diff; then
		echo "cairn-out differs from a clean build (- clean, + incremental):" >&2
		head -n 30 sum.diff >&2
		python3 model.py history state.json >&2
		return 1
	fi
	python3 model.py check w ref state.json explain.txt >&2
}

test_random_edits_match_clean_builds() {
	local seed=${EDITS_SEED:-20240611} steps=${EDITS_STEPS:-25} i
	edits_model
	python3 model.py init w state.json "$seed" >&2
	(cd w && cairn --version >/dev/null)
	edits_build
	for i in $(seq 1 "$steps"); do
		python3 model.py edit w state.json "$i" | sed "s/^/edit $i: /" >&2
		edits_build
	done
}
