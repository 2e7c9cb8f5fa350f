# Shared by deploy/test, deploy/run and deploy/bench: find or install
# PostgreSQL from Debian's packages and run a private cluster as an
# unprivileged user (initdb refuses root). Source it; it defines functions only.

PG_USER_NAME=${SXP_PG_USER:-sxp}

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# pg_bindir prints the directory of the newest installed PostgreSQL server binaries.
pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

# ensure_postgres installs PostgreSQL from Debian's packages when it is missing.
ensure_postgres() {
  if pg_bindir >/dev/null; then return 0; fi
  log "PostgreSQL is not installed; installing it from Debian's packages"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  # Debian's package starts its own cluster; we never use or touch it.
  pg_bindir >/dev/null || die "PostgreSQL installation failed"
}

# ensure_apt_packages PKG... installs Debian packages that are missing.
ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} from Debian's packages"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# as_pg_user CMD... runs a command as the cluster owner.
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_USER_NAME" -- "$@"
  else
    "$@"
  fi
}

ensure_pg_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id -u "$PG_USER_NAME" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER_NAME"
}

# port_free PORT succeeds when nothing listens on 127.0.0.1:PORT.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port prints a free loopback port.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# pg_init DIR: creates a cluster in DIR (owned by the cluster user) if absent.
pg_init() {
  local dir=$1 bindir
  bindir=$(pg_bindir)
  ensure_pg_user
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown "$PG_USER_NAME" "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_pg_user "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
      || die "initdb failed in $dir"
  fi
}

# pg_start DIR PORT [extra postgres -c settings...]: starts the cluster on loopback.
pg_start() {
  local dir=$1 port=$2; shift 2
  local bindir opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400"
  bindir=$(pg_bindir)
  local s
  for s in "$@"; do opts="$opts -c $s"; done
  as_pg_user "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null \
    || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start on port $port (see $dir/server.log)"; }
}

# pg_stop DIR: stops the cluster quickly; quiet if it is not running.
pg_stop() {
  local dir=$1 bindir
  bindir=$(pg_bindir) || return 0
  [ -f "$dir/postmaster.pid" ] || return 0
  as_pg_user "$bindir/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}
