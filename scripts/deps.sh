#!/bin/sh
# Installs the Debian packages cairn needs, only those that are missing.
set -e
need=""
for p in gcc make pkg-config liblua5.4-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev libsqlite3-dev \
	python3 ninja-build procps groff-base man-db time git; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
[ -z "$need" ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need
