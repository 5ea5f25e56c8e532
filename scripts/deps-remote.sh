#!/bin/sh
# Installs the Debian packages the remote-cache and remote-execution tests
# need for their peers (tests/peers/), only those that are missing:
#   bazel-bootstrap          A-server.jar, RemoteWorker's classpath
#   bazel-bootstrap-source   RemoteWorker's sources
#   default-jdk-headless     javac, java
#   nginx-light              the WebDAV HTTP cache
#   curl                     the HTTP cache's checks
#   iproute2, util-linux     ip and unshare: RemoteWorker's network namespace
#   libnetty-tcnative-jni    RemoteWorker's TLS (the grpcs:// tests)
#   openssl                  the grpcs tests' self-signed certificate
#   prometheus               promtool, which checks cairn serve's /metrics
# On a machine with none of them: about 150 MB to download and 380 MB on
# disk (the JDK is 260 MB of it); with the JDK already there, 42 packages,
# 35 MB and 120 MB, installed in 11 s. make test does not call it.
# The packages' own nginx service is not left running: tests start their own.
set -e
need=""
for p in bazel-bootstrap bazel-bootstrap-source default-jdk-headless nginx-light curl iproute2 \
	util-linux python3 libnetty-tcnative-jni openssl prometheus; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
[ -z "$need" ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
case " $need " in
*" nginx-light "*)
	# Debian starts nginx on port 80 where services may start; stop it.
	if [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
	elif [ -x /etc/init.d/nginx ]; then
		$SUDO /etc/init.d/nginx stop >/dev/null 2>&1 || true
	fi ;;
esac
case " $need " in
*" prometheus "*)
	# only promtool is wanted: the daemon the package starts is stopped
	if [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
	elif [ -x /etc/init.d/prometheus ]; then
		$SUDO /etc/init.d/prometheus stop >/dev/null 2>&1 || true
	fi ;;
esac
