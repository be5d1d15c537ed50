#!/bin/sh
# Check a ganeti-agent .deb: its control data, its contents, and (with --chroot)
# that it installs into a clean Debian bookworm root and the installed agent
# answers GET / with [1].
#
# Usage: packaging/check-deb.sh [--deb FILE] [--chroot BASEDIR [--test-suite]] [--keep]
#
#   --deb FILE       the package to check; without it, packaging/build-deb.sh
#                    builds one from the working tree (into $TMPDIR or /tmp).
#   --chroot BASEDIR a pristine bookworm root, made with
#                    "debootstrap --variant=minbase bookworm BASEDIR" when it does
#                    not exist; it is copied, never changed. Needs root, and
#                    network access to the Debian mirror for apt-get.
#   --test-suite     also run tests/ in that root against the installed package
#                    and bookworm's libraries (the tests of the built tree).
#   --keep           leave the copied root (BASEDIR.check) for inspection.
#
# Without systemd in the chroot, the unit's ExecStart runs by hand with the
# unit's Environment= and /etc/default/ganeti-agent, as systemd would.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
deb=
base=
keep=no
suite=no
src=$repo
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

usage() { sed -n '2,18s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
	case $1 in
	--deb) deb=$2; shift 2 ;;
	--chroot) base=$2; shift 2 ;;
	--test-suite) suite=yes; shift ;;
	--keep) keep=yes; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

failures=0
ok() { echo "check-deb: ok: $*"; }
fail() { echo "check-deb: FAIL: $*" >&2; failures=$((failures + 1)); }
expect() { # expect DESCRIPTION COMMAND...: ok when COMMAND succeeds
	what=$1; shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

if [ -z "$deb" ]; then
	out=${TMPDIR:-/tmp}/ganeti-agent-deb
	"$repo/packaging/build-deb.sh" "$out"
	deb=$(ls "$out"/ganeti-agent_*_all.deb)
	src=$(ls -d "$out"/src/ganeti-agent-*)
fi
[ -f "$deb" ] || { echo "check-deb: no such file: $deb" >&2; exit 2; }
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
echo "check-deb: checking $deb"

# --- control data (dpkg-deb --info) ---------------------------------------
field() { dpkg-deb --field "$deb" "$1"; }
expect "Package is ganeti-agent" test "$(field Package)" = ganeti-agent
expect "Architecture is all" test "$(field Architecture)" = all
depends=$(field Depends)
for dep in python3:any python3-twisted python3-psutil python3-prometheus-client \
	python3-cryptography python3-bcrypt python3-werkzeug python3-tubes; do
	case ", $depends," in
	*", $dep "* | *", $dep,"*) ok "Depends on $dep" ;;
	*) fail "Depends lacks $dep: $depends" ;;
	esac
done
case "$depends" in
*klein*) fail "Depends names klein, which bookworm lacks: $depends" ;;
*) ok "Depends does not name klein (it is bundled)" ;;
esac
control=$(mktemp -d)
files=$(mktemp -d)
trap 'rm -rf "$control" "$files"' EXIT
dpkg-deb --control "$deb" "$control"
expect "conffile /etc/ganeti-agent/ganeti-agent.conf" \
	grep -qx /etc/ganeti-agent/ganeti-agent.conf "$control/conffiles"
expect "conffile /etc/default/ganeti-agent" grep -qx /etc/default/ganeti-agent "$control/conffiles"
expect "trigger activate-noawait twisted-plugins-cache" \
	grep -qx 'activate-noawait twisted-plugins-cache' "$control/triggers"
expect "postinst byte-compiles /usr/lib/ganeti-agent" \
	grep -q 'py3compile -p ganeti-agent /usr/lib/ganeti-agent' "$control/postinst"
expect "postinst enables ganeti-agent.service" \
	grep -q "deb-systemd-helper enable 'ganeti-agent.service'" "$control/postinst"

# --- contents (dpkg-deb --contents) ---------------------------------------
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
has() { printf '%s\n' "$contents" | grep -qx -- "$1"; }
for path in \
	./usr/lib/python3/dist-packages/ganeti_agent/__init__.py \
	./usr/lib/python3/dist-packages/ganeti_agent/server/tap.py \
	./usr/lib/python3/dist-packages/twisted/plugins/ganeti_agent_plugin.py \
	./usr/lib/ganeti-agent/klein/__init__.py \
	./lib/systemd/system/ganeti-agent.service \
	./etc/ganeti-agent/ganeti-agent.conf \
	./etc/default/ganeti-agent \
	./usr/share/doc/ganeti-agent/copyright; do
	expect "contains $path" has "$path"
done
scripts=$(/usr/bin/python3 -c '
import configparser, sys
config = configparser.ConfigParser()
config.read(sys.argv[1])
for line in config.get("options.entry_points", "console_scripts", fallback="").splitlines():
    if "=" in line:
        print(line.split("=")[0].strip())
' "$repo/setup.cfg")
for script in $scripts; do
	expect "contains /usr/bin/$script" has "./usr/bin/$script"
	expect "contains the manual page of $script" has "./usr/share/man/man1/$script.1.gz"
done
for pattern in 'dropin\.cache' '__pycache__' '\.pyc$' '/tests\{0,1\}/' \
	'dist-packages/twisted/__init__\.py' 'dist-packages/twisted/plugins/__init__\.py' \
	'^\./usr/lib/python3\.[0-9]*/'; do
	if printf '%s\n' "$contents" | grep -q -- "$pattern"; then
		fail "contains what it must not ($pattern): $(printf '%s\n' "$contents" | grep -- "$pattern" | head -3)"
	else
		ok "contains nothing matching $pattern"
	fi
done
dpkg-deb --extract "$deb" "$files"
unit=$files/lib/systemd/system/ganeti-agent.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
# shellcheck disable=SC2016 # systemd expands these, not the shell
expected='/usr/bin/twistd3 $TWISTD_ARGS --nodaemon --pidfile= ganeti-agent --config /etc/ganeti-agent/ganeti-agent.conf $GANETI_AGENT_ARGS'
expect "unit ExecStart is: $expected" test "$exec_start" = "$expected"
if command -v systemd-analyze >/dev/null 2>&1 && [ -x /usr/bin/twistd3 ]; then
	expect "systemd-analyze verify accepts the unit" systemd-analyze verify "$unit"
fi
expect "conffile equals etc/ganeti-agent.conf of the tree" \
	cmp -s "$files/etc/ganeti-agent/ganeti-agent.conf" "$repo/etc/ganeti-agent.conf"

if [ -z "$base" ]; then
	echo "check-deb: no --chroot given: installation not checked"
	echo "check-deb: $failures failure(s)"
	[ "$failures" = 0 ]
	exit
fi

# --- install into a clean bookworm root, start, GET / ---------------------
[ "$(id -u)" = 0 ] || { echo "check-deb: --chroot needs root" >&2; exit 2; }
if [ ! -x "$base/usr/bin/apt-get" ]; then
	echo "check-deb: debootstrap --variant=minbase bookworm $base"
	debootstrap --variant=minbase bookworm "$base" "$mirror" >"$base.debootstrap.log" 2>&1 || {
		tail -20 "$base.debootstrap.log" >&2
		exit 1
	}
fi
root=$base.check
agent=
cleanup() {
	[ -z "$agent" ] || kill "$agent" 2>/dev/null || true
	for mnt in "$root/sys" "$root/proc"; do
		mountpoint -q "$mnt" 2>/dev/null && umount -l "$mnt"
	done
	[ "$keep" = yes ] || rm -rf "$root"
	rm -rf "$control" "$files"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
for mnt in "$root/sys" "$root/proc"; do
	mountpoint -q "$mnt" 2>/dev/null && umount -l "$mnt"
done
rm -rf "$root"
cp -a "$base" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
cp /etc/resolv.conf /etc/hosts "$root/etc/"
cp "$deb" "$root/tmp/"
quietly() { "$@" >/dev/null 2>&1; }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

echo "check-deb: apt-get install ./$(basename "$deb") in $root"
if in_root sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends /tmp/$(basename "$deb")" >"$root.install.log" 2>&1; then
	ok "apt-get install in a clean bookworm root"
else
	tail -20 "$root.install.log" >&2
	fail "apt-get install in a clean bookworm root (log: $root.install.log)"
	exit 1
fi
cache=$root/usr/lib/python3/dist-packages/twisted/plugins/dropin.cache
expect "the trigger built dropin.cache listing the plugin" grep -q ganeti_agent_plugin "$cache"
expect "twistd3 lists the ganeti-agent plugin" \
	sh -c "chroot '$root' /usr/bin/twistd3 --help | grep ' ganeti-agent ' >/dev/null"
for script in $scripts; do
	expect "/usr/bin/$script --help runs" quietly in_root "/usr/bin/$script" --help
done

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
installed_unit=$root/lib/systemd/system/ganeti-agent.service
environment=$(sed -n 's/^Environment=//p' "$installed_unit")
exec_start=$(sed -n 's/^ExecStart=//p' "$installed_unit")
echo "check-deb: starting ExecStart by hand on 127.0.0.1:$port: $environment $exec_start"
# shellcheck disable=SC2086 # Environment= holds NAME=value words, as systemd splits them
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 $environment sh -c "
	set -a; . /etc/default/ganeti-agent; set +a
	GANETI_AGENT_ARGS=\"\$GANETI_AGENT_ARGS --bind 127.0.0.1 --port $port\"
	exec $exec_start" >"$root.agent.log" 2>&1 &
agent=$!
answer=$(/usr/bin/python3 - "$port" <<'EOF'
import sys, time, urllib.request

url = f"http://127.0.0.1:{sys.argv[1]}/"
for _ in range(60):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            print(response.read().decode())
            break
    except OSError:
        time.sleep(0.5)
else:
    print("no answer")
EOF
)
if [ "$answer" = "[1]" ]; then
	ok "the installed agent answers GET / with [1]"
else
	fail "GET / answered: $answer; agent log:"
	cat "$root.agent.log" >&2
fi
collectors=$(/usr/bin/python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
	"http://127.0.0.1:$port/1/list/collectors" 2>&1 || true)
echo "check-deb: GET /1/list/collectors: $collectors"
kill "$agent" 2>/dev/null || true
wait "$agent" 2>/dev/null || true
agent=
echo "check-deb: agent log:"
sed 's/^/    /' "$root.agent.log"

if [ "$suite" = yes ]; then
	# The tests of the tree the package was built from, without its code, so they
	# import the installed agent; ../shared holds their fixtures.
	mkdir -p "$root/src/main"
	(cd "$src" && tar -cf - --exclude=./ganeti_agent --exclude=./twisted --exclude=./.venv \
		--exclude=__pycache__ --exclude=.git .) | tar -xf - -C "$root/src/main"
	[ ! -d "$repo/../shared" ] || cp -a "$repo/../shared" "$root/src/shared"
	echo "check-deb: installing the test dependencies"
	in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		python3-pytest python3-pytest-twisted python3-treq python3-hypothesis procps' \
		>>"$root.install.log" 2>&1
	# The tests find twistd beside sys.executable; bookworm calls it twistd3.
	ln -s twistd3 "$root/usr/bin/twistd"
	echo "check-deb: running the test suite against the installed package"
	if in_root PYTHONPATH=/usr/lib/ganeti-agent sh -c \
		'cd /src/main && python3 -m pytest -q -p no:cacheprovider tests' >"$root.tests.log" 2>&1; then
		ok "test suite: $(tail -1 "$root.tests.log")"
	else
		grep -E '^(FAILED|ERROR)' "$root.tests.log" >&2 || true
		fail "test suite: $(tail -1 "$root.tests.log") (log: $root.tests.log)"
	fi
	rm -f "$root/usr/bin/twistd"
fi

if in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq ganeti-agent' >>"$root.install.log" 2>&1; then
	ok "apt-get purge"
else
	fail "apt-get purge (log: $root.install.log)"
fi
expect "purge removed /etc/ganeti-agent" test ! -e "$root/etc/ganeti-agent"
expect "the trigger dropped the plugin from dropin.cache" \
	sh -c "! grep -q ganeti_agent_plugin '$cache'"

echo "check-deb: $failures failure(s)"
[ "$failures" = 0 ]
