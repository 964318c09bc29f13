#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for tests and trials; prints its URL on stdout.
#
#   scripts/pg.sh            start (or reuse) the cluster and print postgresql://postgres:PW@127.0.0.1:PORT/storyline
#   scripts/pg.sh stop       stop it
#   scripts/pg.sh url        print the URL of the running cluster (exit 1 when it is not running)
#
# The cluster lives in $STORYLINE_PG_DIR (default /tmp/storyline-pg-$UID); running it again reuses it
# (about 0.1 s) and restarts it when the machine lost the process. As root it installs Debian's
# postgresql when missing (and postgresql-VER-pgvector when Debian has it) and runs the server as the
# `postgres` user; as any other user it needs the server binaries already installed. pgvector is
# enabled in the database when the extension is installed. Durability is off (fsync=off): test data only.
set -euo pipefail

DIR=${STORYLINE_PG_DIR:-/tmp/storyline-pg-$(id -u)}
DB=${STORYLINE_PG_DB:-storyline}
CMD=${1:-start}
log() { echo "pg.sh: $*" >&2; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  command -v pg_ctl >/dev/null 2>&1 && [ -x "$(dirname "$(command -v pg_ctl)")/initdb" ] &&
    { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

ROOT=0; [ "$(id -u)" = "0" ] && ROOT=1
# As root the server runs as `postgres` (initdb refuses root); otherwise as the caller.
as_owner() { if [ "$ROOT" = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

url_file="$DIR/url"
running() {
  [ -f "$url_file" ] && [ -f "$DIR/port" ] || return 1
  local bindir; bindir=$(find_bindir) || return 1
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$(cat "$DIR/port")" -t 2 >/dev/null 2>&1
}

case "$CMD" in
  url)
    running && { cat "$url_file"; exit 0; }
    log "not running"; exit 1 ;;
  stop)
    if BINDIR=$(find_bindir) && [ -d "$DIR/data" ]; then
      as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    log "stopped"; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|url]" >&2; exit 2 ;;
esac

# Fast path: already up.
if running; then cat "$url_file"; exit 0; fi

mkdir -p "$DIR"
exec 9>"$DIR/lock"
flock 9  # one starter at a time (parallel test sessions)
if running; then cat "$url_file"; exit 0; fi

if ! BINDIR=$(find_bindir); then
  if [ "$ROOT" = 1 ] && command -v apt-get >/dev/null; then
    log "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null; }
    BINDIR=$(find_bindir) || { log "postgresql installed but initdb/pg_ctl not found"; exit 1; }
  else
    log "PostgreSQL server binaries not found (install Debian's postgresql as root, or set STORYLINE_TEST_PG_URL)"
    exit 1
  fi
fi
VER=$(basename "$(dirname "$BINDIR")")
SHAREDIR=$("$BINDIR/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$VER")
if [ ! -f "$SHAREDIR/extension/vector.control" ] && [ "$ROOT" = 1 ] && command -v apt-get >/dev/null &&
   apt-cache show "postgresql-$VER-pgvector" >/dev/null 2>&1; then
  log "installing postgresql-$VER-pgvector"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$VER-pgvector" >/dev/null 2>&1 ||
    log "could not install postgresql-$VER-pgvector; embeddings will be stored as bytea"
fi

if [ "$ROOT" = 1 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" --shell /usr/sbin/nologin postgres
  chown postgres "$DIR"
  chmod 700 "$DIR"
fi

if [ ! -s "$DIR/data/PG_VERSION" ]; then
  rm -rf "$DIR/data"
  PW=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
  (umask 077; printf '%s\n' "$PW" >"$DIR/pw")
  [ "$ROOT" = 1 ] && chown postgres "$DIR/pw"
  log "initdb in $DIR/data (PostgreSQL $VER)"
  as_owner "$BINDIR/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/pw" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 ||
    { cat "$DIR/initdb.log" >&2; exit 1; }
fi
PW=$(cat "$DIR/pw")

# A free port: the one used last time when still free, else one the kernel hands out.
PORT=$(python3 - "$(cat "$DIR/port" 2>/dev/null || echo 0)" <<'EOF'
import socket, sys
for port in (int(sys.argv[1]), 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
EOF
)
echo "$PORT" >"$DIR/port"

# A stale postmaster.pid (machine restarted) makes pg_ctl refuse; the server is not running here.
as_owner "$BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1 || rm -f "$DIR/data/postmaster.pid"
as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start -o \
  "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  >/dev/null || { tail -20 "$DIR/server.log" >&2; exit 1; }

PSQL=(as_owner "$BINDIR/psql" -h "$DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
if [ "$("${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE \"$DB\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
fi
if [ "$("${PSQL[@]}" -d "$DB" -c "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")" = "1" ]; then
  "${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public"
  log "pgvector enabled"
else
  log "pgvector not available: embeddings are stored as bytea"
fi

echo "postgresql://postgres:$PW@127.0.0.1:$PORT/$DB" >"$url_file"
[ "$ROOT" = 1 ] && chown postgres "$url_file"
cat "$url_file"
