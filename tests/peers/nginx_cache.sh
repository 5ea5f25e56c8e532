# nginx (Debian's nginx-light) with WebDAV PUT as a bazel-remote-style HTTP
# cache: GET and PUT of /ac/<sha256> and /cas/<sha256> (under any prefix),
# 404 for a missing key. Listens on 127.0.0.1 only, so it needs no private
# network namespace (it works inside one too).
#
# In a test (bash; see tests/bb/peers.sh):
#   source "$TESTS/peers/nginx_cache.sh"
#   nginx_cache_start    # exports NGINX_CACHE_PORT, NGINX_CACHE_URL
#                        # (http://127.0.0.1:PORT), NGINX_CACHE_ROOT (the
#                        # files: $NGINX_CACHE_ROOT/cas/<sha256>),
#                        # NGINX_CACHE_PID, NGINX_CACHE_LOG (error log),
#                        # NGINX_CACHE_ACCESS_LOG (one line per request:
#                        # method, URI, status, bytes)
#   cairn build --remote_cache="$NGINX_CACHE_URL" ...
#   nginx_cache_stop     # optional: the test's exit stops it anyway
# With NGINX_CACHE_TLS=1 it speaks https, with a self-signed certificate
# for localhost and 127.0.0.1 in NGINX_CACHE_CERT; NGINX_CACHE_URL is then
# https://localhost:PORT (trust it with SSL_CERT_FILE=$NGINX_CACHE_CERT).
#
# Its config, pid, logs and temporary files are in $PEERS_DIR/nginx.N;
# nothing touches /etc/nginx or /var. As root, the workers run as www-data
# (Debian's worker user) and own the root and the temporary directories.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

# nginx_cache_start: start nginx on a free port; wait until it answers.
nginx_cache_start() {
	peers_here nginx_cache_start || return 1
	peers_need "$NGINX_BIN" setpriv || return 1
	peers_dir
	local n=0 try user=""
	while [ -e "$PEERS_DIR/nginx.$n" ]; do n=$((n + 1)); done
	local dir=$PEERS_DIR/nginx.$n
	mkdir -p "$dir/root" "$dir/tmp/body" "$dir/tmp/proxy" "$dir/tmp/fastcgi" "$dir/tmp/uwsgi" "$dir/tmp/scgi" "$dir/logs"
	chmod 755 "$dir"
	if [ "$(id -u)" -eq 0 ] && id www-data >/dev/null 2>&1; then
		user="user www-data;"
		chown -R www-data: "$dir/root" "$dir/tmp"
	fi
	local ssl="" tlsconf="" scheme=http host=127.0.0.1
	if [ "${NGINX_CACHE_TLS:-0}" = 1 ]; then
		peers_need openssl || return 1
		mkdir -p "$dir/tls"
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
			-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
			-keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null || return 1
		ssl=" ssl"
		tlsconf="ssl_certificate $dir/tls/cert.pem; ssl_certificate_key $dir/tls/key.pem;"
		scheme=https host=localhost
		NGINX_CACHE_CERT=$dir/tls/cert.pem
		export NGINX_CACHE_CERT
	fi
	for try in 1 2 3; do
		NGINX_CACHE_PORT=$(peers_free_port)
		cat > "$dir/nginx.conf" <<-EOF
		# written by tests/peers/nginx_cache.sh
		$user
		worker_processes 1;
		daemon off;
		master_process on;
		pid $dir/nginx.pid;
		error_log $dir/logs/error.log info;
		events { worker_connections 256; }
		http {
		    access_log $dir/logs/access.log combined;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    default_type application/octet-stream;
		    client_max_body_size 0;
		    sendfile on;
		    server {
		        listen 127.0.0.1:$NGINX_CACHE_PORT$ssl;
		        server_name localhost;
		        $tlsconf
		        root $dir/root;
		        location / {
		            dav_methods PUT;
		            create_full_put_path on;
		            dav_access user:rw group:r all:r;
		        }
		    }
		}
		EOF
		peers_spawn "$dir/logs/stderr.log" "$NGINX_BIN" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
		NGINX_CACHE_PID=$PEER_PID
		peers_wait_port "$NGINX_CACHE_PORT" "$NGINX_CACHE_PID" 30 "$dir/logs/error.log" && break
		grep -q 'Address already in use' "$dir/logs/error.log" && [ "$try" -lt 3 ] || return 1
		peers_stop "$NGINX_CACHE_PID"
	done
	PEERS_LOGS+=("$dir/logs/error.log")
	NGINX_CACHE_URL=$scheme://$host:$NGINX_CACHE_PORT
	NGINX_CACHE_ROOT=$dir/root
	NGINX_CACHE_LOG=$dir/logs/error.log
	NGINX_CACHE_ACCESS_LOG=$dir/logs/access.log
	export NGINX_CACHE_PORT NGINX_CACHE_URL NGINX_CACHE_ROOT NGINX_CACHE_PID NGINX_CACHE_LOG NGINX_CACHE_ACCESS_LOG
	echo "nginx_cache: $NGINX_CACHE_URL (pid $NGINX_CACHE_PID, root $NGINX_CACHE_ROOT)" >&2
}

# nginx_cache_stop [SIGNAL]: stop it.
nginx_cache_stop() { peers_stop "$NGINX_CACHE_PID" "${1:-TERM}"; }
