# Sourced by bench/initials.sh and bench/noise.sh: nginx serving $work/static/jane.png from a file
# (`sendfile`), with the headers visage sends for a cached picture. The caller sets work, workers,
# pin_server (bench/pin.sh) and NGINX, and creates $work/static and $work/tmp.
# Tuned as a careful operator would (nginx_log() in bench/pin.sh): an access log buffered like
# visage's request log, open_file_cache (no open/fstat/close per hit), sendfile and tcp_nopush,
# the same workers and cores as visage.
start_nginx() { # port, access log: a file, or off
  cat > "$work/nginx-$1.conf" <<CONF
worker_processes $workers;
pid $work/nginx-$1.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log $(nginx_log "$2");
  open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s; open_file_cache_min_uses 1;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  types { image/png png; }
  server {
    listen 127.0.0.1:$1;
    root $work/static;
    add_header Cache-Control "public, max-age=31536000, immutable";
    add_header X-Content-Type-Options nosniff;
  }
}
CONF
  "${pin_server[@]}" "$NGINX" -c "$work/nginx-$1.conf" -p "$work" 2>/dev/null
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$1/jane.png" -o /dev/null && break; sleep 0.1; done
}
