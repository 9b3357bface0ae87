#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a NEW, EMPTY database and media folder, then
# check it: the archives' SHA-256, the row and file counts of the manifest, every evidence file
# present, and `manage.py migrate --check` (the database has every migration of this code).
#
# Usage:  scripts/restore.sh BACKUP_DIRECTORY
# Reads:  DATABASE_URL  the database to restore into: it must be empty or not exist yet (it is
#                       then created; the user needs the CREATEDB right)
#         MEDIA_ROOT    the folder to restore the files into: empty or not existing yet
#         PYTHON        the Python that runs manage.py (default: .venv/bin/python if present,
#                       else python3)
# In docker compose:  docker compose run --rm backup scripts/restore.sh /backups/chanjgai-<time>
#
# It never overwrites anything: a database with tables in it, or a media folder with files in
# it, is refused before anything is changed. If the restore itself fails, what it created is
# removed again. Exit status 0 only when every check passed.
set -euo pipefail

die() { echo "restore: $*" >&2; exit 1; }

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -eq 1 ]] || die "usage: scripts/restore.sh BACKUP_DIRECTORY (a chanjgai-<time> folder made by backup.sh)"
backup=$1
database_url=${DATABASE_URL:-}
media_root=${MEDIA_ROOT:-$project_dir/media}

[[ -n $database_url ]] || die "DATABASE_URL is not set: the NEW database to restore into."
case $database_url in
  postgres://* | postgresql://*) ;;
  *) die "DATABASE_URL must be a PostgreSQL URL (postgres://...)." ;;
esac
for tool in pg_restore psql tar sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed (on Debian: apt-get install postgresql-client)."
done
for file in manifest database.dump media.tar.gz; do
  [[ -f $backup/$file ]] || die "$backup/$file is missing: is $backup a folder made by backup.sh?"
done

manifest() {
  local value
  value=$(sed -n "s/^$1=//p" "$backup/manifest" | head -n 1)
  [[ -n $value ]] || die "the manifest has no $1."
  printf '%s' "$value"
}
[[ $(manifest format) == chanjgai-backup-1 ]] || die "$backup/manifest is not a chanjgai-backup-1 manifest."

echo "restore: checking the archives' SHA-256 ..."
for file in database.dump media.tar.gz; do
  actual=$(sha256sum "$backup/$file" | cut -d' ' -f1)
  [[ $actual == "$(manifest "$file.sha256")" ]] ||
    die "$backup/$file is damaged (its SHA-256 differs from the manifest); nothing was changed."
done
tar -tzf "$backup/media.tar.gz" >/dev/null || die "$backup/media.tar.gz cannot be read; nothing was changed."

# The target database: its name and a URL of the same server's maintenance database.
base=${database_url%%\?*}
query_string=${database_url#"$base"}
database_name=${base##*/}
[[ $database_name =~ ^[A-Za-z0-9_]+$ ]] ||
  die "the database name '$database_name' in DATABASE_URL must be letters, digits and _ only."
maintenance_url="${base%/*}/postgres$query_string"

psql_at() { psql "$1" -X -q -A -t -v ON_ERROR_STOP=1 -c "$2"; }

created_database=0
exists=$(psql_at "$maintenance_url" "SELECT count(*) FROM pg_database WHERE datname = '$database_name';") ||
  die "cannot reach the PostgreSQL server of DATABASE_URL (is it running, are the user and password right?)."
if [[ $exists == 0 ]]; then
  created_database=1
else
  relations=$(psql_at "$database_url" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f');")
  [[ $relations == 0 ]] ||
    die "database $database_name is not empty ($relations tables, views or sequences): restore only into a new, empty database. Nothing was changed."
fi
if [[ -e $media_root ]]; then
  [[ -d $media_root ]] || die "MEDIA_ROOT $media_root is not a folder. Nothing was changed."
  # The portal creates .upload-tmp (FILE_UPLOAD_TEMP_DIR) when it starts: not restored data.
  [[ -z $(find "$media_root" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .upload-tmp -print -quit) ]] ||
    die "MEDIA_ROOT $media_root is not empty: restore only into a new, empty folder. Nothing was changed."
  created_media=0
else
  created_media=1
fi

restoring=1
undo() {
  local status=$?
  if [[ $status -ne 0 && $restoring -eq 1 ]]; then
    echo "restore: FAILED; removing what was restored so far." >&2
    if [[ $created_database -eq 1 ]]; then
      psql_at "$maintenance_url" "DROP DATABASE IF EXISTS \"$database_name\";" >/dev/null 2>&1 || true
    fi
    if [[ $created_media -eq 1 ]]; then
      rm -rf "$media_root"
    elif [[ -d $media_root ]]; then
      find "$media_root" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
    fi
  fi
}
trap undo EXIT

if [[ $created_database -eq 1 ]]; then
  echo "restore: creating database $database_name ..."
  psql_at "$maintenance_url" "CREATE DATABASE \"$database_name\";" >/dev/null
fi
echo "restore: restoring the database into $database_name ..."
# One transaction: a failed restore leaves the database as empty as it was.
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
  --dbname="$database_url" "$backup/database.dump"
echo "restore: restoring the files into $media_root ..."
mkdir -p "$media_root"
tar -C "$media_root" -xzf "$backup/media.tar.gz"
restoring=0

# --- Checks: from here on the restored data stays, so that a failure can be looked into. ---
failures=0
check() {
  local what=$1 expected=$2 actual=$3
  if [[ $expected == "$actual" ]]; then
    echo "restore: ok   $what: $actual"
  else
    echo "restore: FAIL $what: $actual, the backup has $expected" >&2
    failures=$((failures + 1))
  fi
}
for pair in checkins:tasks_checkin evidence_rows:tasks_evidence review_events:tasks_reviewevent \
  enterprises:enterprises_enterprise users:auth_user migrations:django_migrations; do
  key=${pair%%:*}
  check "$key" "$(manifest "$key")" "$(psql_at "$database_url" "SELECT count(*) FROM ${pair#*:};")"
done
check media_files "$(manifest media_files)" "$(find "$media_root" -type f | wc -l)"
missing=0
while IFS= read -r name; do
  [[ -f $media_root/$name ]] || missing=$((missing + 1))
done < <(psql_at "$database_url" "SELECT DISTINCT file FROM tasks_evidence;")
check evidence_files_missing "$(manifest evidence_files_missing)" "$missing"

if [[ -z ${PYTHON:-} ]]; then
  if [[ -x $project_dir/.venv/bin/python ]]; then PYTHON=$project_dir/.venv/bin/python; else PYTHON=python3; fi
fi
echo "restore: manage.py migrate --check ..."
if (cd "$project_dir" && DATABASE_URL=$database_url MEDIA_ROOT=$media_root "$PYTHON" manage.py migrate --check); then
  echo "restore: ok   every migration of this code is applied"
else
  echo "restore: FAIL manage.py migrate --check: the backup lacks migrations of this code (an older" \
    "release?) or the portal cannot start; run 'manage.py migrate' once the rest is checked." >&2
  failures=$((failures + 1))
fi

if [[ $failures -ne 0 ]]; then
  echo "restore: $failures check(s) FAILED; the restored data is left in place for inspection." >&2
  exit 2
fi
echo "restore: done: $database_name and $media_root hold the backup of $(manifest created_at)."
