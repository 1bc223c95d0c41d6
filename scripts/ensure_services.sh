#!/usr/bin/env bash
# Makes sure the real engines the tests use are installed and running on this machine:
# PostgreSQL (127.0.0.1:5432), MariaDB (127.0.0.1:3306) and Firebird 3 (127.0.0.1:3050).
# Installs with apt when missing and running as root; starts what is stopped. Idempotent.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do listening "$1" && return 0; sleep 0.5; done
  log "port $1 did not open"; return 1
}
APT_UPDATED=""
apt_install() {
  is_root || { log "not root: cannot install $*; install them or point CARTERA_TEST_* at servers"; return 1; }
  [ -n "$APT_UPDATED" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# A server named by CARTERA_TEST_* is someone else's: use it as it is, install and start nothing for it.
external() { [ -n "${!1:-}" ] && log "$2: using $1 as given (nothing installed or started)"; }

# PostgreSQL
if external CARTERA_TEST_PG_URL PostgreSQL; then :
elif ! listening 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing PostgreSQL"; apt_install postgresql
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    sed -i 's/^\(host.*127.0.0.1\/32 *\)\S*$/\1trust/; s/^\(local *all *all *\)\S*$/\1trust/; s/^\(local *all *postgres *\)\S*$/\1trust/' \
      "/etc/postgresql/$ver/main/pg_hba.conf"
  fi
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  wait_port 5432
fi

# MariaDB
if external CARTERA_TEST_MYSQL_URL MariaDB; then :
elif ! listening 3306; then
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    log "installing MariaDB"; apt_install mariadb-server
  fi
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --bind-address=127.0.0.1 || true
  wait_port 3306
  # root over TCP without a password, as the tests expect (a fresh install only allows the socket)
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" 2>/dev/null || true
fi

# Firebird 3 (server + libfbclient for the fdb driver; a remote server still needs the client library)
if external CARTERA_TEST_FIREBIRD_HOST Firebird; then
  ldconfig -p | grep -q libfbclient.so.2 || apt_install libfbclient2
else
if [ ! -x /usr/sbin/fbguard ] || ! ldconfig -p | grep -q libfbclient.so.2; then
  log "installing Firebird 3"; apt_install firebird3.0-server firebird3.0-utils libfbclient2
fi
if ! listening 3050; then
  log "starting Firebird 3"
  /etc/init.d/firebird3.0 start >/dev/null || true
  wait_port 3050
fi
# a directory where the Firebird server (user firebird) creates the tests' databases
fbdir=${CARTERA_TEST_FIREBIRD_DIR:-/var/lib/cartera-firebird-tests}
if is_root; then
  mkdir -p "$fbdir" && chown firebird:firebird "$fbdir" && chmod 0777 "$fbdir"
fi
fi
log "PostgreSQL, MariaDB and Firebird are up"
