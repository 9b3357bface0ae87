#!/usr/bin/env bash
# Back up the portal: its PostgreSQL database and its evidence files, into one new directory
#   DESTINATION/chanjgai-YYYYMMDDTHHMMSSZ/
#     database.dump   pg_dump custom format (pg_restore reads it)
#     media.tar.gz    everything under MEDIA_ROOT (evidence, notice attachments, exports)
#                     but .upload-tmp (uploads still streaming in)
#     manifest        key=value: when, row counts, file counts, SHA-256 of both archives
#
# Usage:  scripts/backup.sh [DESTINATION]          (default: $BACKUP_DIR, else ./backups)
# Reads:  DATABASE_URL (required, postgres://user:password@host:port/name)
#         MEDIA_ROOT   (default: the project's media/ folder, as the portal's settings)
#         BACKUP_KEEP  (optional: keep only the newest N backups in DESTINATION)
# In docker compose:  docker compose run --rm backup scripts/backup.sh /backups
#
# The counts in the manifest are taken in the same database snapshot as the dump, so the
# restore can check them exactly while the portal keeps running. The files are archived after
# the dump: every file the dumped rows point to was written before its row was committed.
# A backup being written is named .chanjgai-*.partial and renamed only when complete.
set -euo pipefail
umask 077

die() { echo "backup: $*" >&2; exit 1; }

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
destination=${1:-${BACKUP_DIR:-$project_dir/backups}}
database_url=${DATABASE_URL:-}
media_root=${MEDIA_ROOT:-$project_dir/media}
database_name=${database_url%%\?*}
database_name=${database_name##*/}

[[ -n $database_url ]] || die "DATABASE_URL is not set (postgres://user:password@host:port/name)."
case $database_url in
  postgres://* | postgresql://*) ;;
  *) die "DATABASE_URL must be a PostgreSQL URL (postgres://...); this script backs up PostgreSQL only." ;;
esac
for tool in pg_dump psql tar sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed (on Debian: apt-get install postgresql-client)."
done
if [[ ${EVIDENCE_STORAGE:-local} == s3 ]]; then
  echo "backup: warning: EVIDENCE_STORAGE=s3: files in the bucket are NOT in this backup;" \
    "copy the bucket with its own tools (e.g. mc mirror)." >&2
fi
if [[ ! -d $media_root ]]; then
  echo "backup: warning: MEDIA_ROOT $media_root does not exist: archiving no files." >&2
fi

mkdir -p "$destination"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
final="$destination/chanjgai-$stamp"
work="$destination/.chanjgai-$stamp.partial"
[[ ! -e $final && ! -e $work ]] || die "$final already exists; wait a second and run again."
mkdir "$work"

snapshot_pid=""
cleanup() {
  local status=$?
  if [[ -n $snapshot_pid ]]; then
    exec {snapshot_in}>&- 2>/dev/null || true
    wait "$snapshot_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then
    rm -rf "$work"
    echo "backup: FAILED; nothing was kept." >&2
  fi
}
trap cleanup EXIT

# One read-only transaction holds a snapshot: the counts are read in it and pg_dump uses it.
coproc SNAPSHOT { psql "$database_url" -X -q -A -t -v ON_ERROR_STOP=1 2>&1; }
snapshot_pid=$SNAPSHOT_PID
exec {snapshot_in}>&"${SNAPSHOT[1]}" {snapshot_out}<&"${SNAPSHOT[0]}"
query() {
  local line
  printf '%s\n' "$1" >&"$snapshot_in"
  IFS= read -r -t 60 line <&"$snapshot_out" || die "no answer from the database to: $1"
  printf '%s' "$line"
}
snapshot=$(query "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot();")
[[ $snapshot =~ ^[0-9A-F-]+$ ]] || die "cannot open a snapshot of the database: $snapshot"

count() {
  local value
  value=$(query "SELECT count(*) FROM $1;")
  [[ $value =~ ^[0-9]+$ ]] || die "cannot count $1 (is this the portal's database, migrated?): $value"
  printf '%s' "$value"
}
checkins=$(count tasks_checkin)
evidence_rows=$(count tasks_evidence)
review_events=$(count tasks_reviewevent)
enterprises=$(count enterprises_enterprise)
users=$(count auth_user)
migrations=$(count django_migrations)
# The stored names of the evidence files, to check each is in the archive (DISTINCT: a file
# kept by a resubmission is named by the row of each version that shows it).
printf '%s\n' "\\copy (SELECT DISTINCT file FROM tasks_evidence ORDER BY file) TO '$work/.evidence-files'" >&"$snapshot_in"
marker=$(query "SELECT 'listed';")
[[ $marker == listed ]] || die "cannot list the evidence files: $marker"

echo "backup: dumping the database ($checkins check-ins, $evidence_rows evidence files) ..."
pg_dump --format=custom --compress=6 --snapshot="$snapshot" --file="$work/database.dump" "$database_url"
printf 'COMMIT;\n\\q\n' >&"$snapshot_in"
exec {snapshot_in}>&-
wait "$snapshot_pid" || true
snapshot_pid=""

echo "backup: archiving $media_root ..."
if [[ -d $media_root ]]; then
  # .upload-tmp holds uploads still streaming in (FILE_UPLOAD_TEMP_DIR): nothing to keep.
  tar -C "$media_root" --exclude=./.upload-tmp -czf "$work/media.tar.gz" .
else
  tar -czf "$work/media.tar.gz" -T /dev/null
fi
tar -tzf "$work/media.tar.gz" | { grep -v '/$' || true; } | sed 's#^\./##' | sort >"$work/.archived-files"
media_files=$(wc -l <"$work/.archived-files")
missing=$(sort "$work/.evidence-files" | comm -23 - "$work/.archived-files" | wc -l)
rm -f "$work/.evidence-files" "$work/.archived-files"
if [[ $missing -ne 0 ]]; then
  echo "backup: warning: $missing evidence file(s) named in the database are not under $media_root." >&2
fi

{
  echo "format=chanjgai-backup-1"
  echo "created_at=$stamp"
  echo "database=$database_name"
  echo "checkins=$checkins"
  echo "evidence_rows=$evidence_rows"
  echo "review_events=$review_events"
  echo "enterprises=$enterprises"
  echo "users=$users"
  echo "migrations=$migrations"
  echo "media_files=$media_files"
  echo "evidence_files_missing=$missing"
  echo "database.dump.sha256=$(sha256sum "$work/database.dump" | cut -d' ' -f1)"
  echo "media.tar.gz.sha256=$(sha256sum "$work/media.tar.gz" | cut -d' ' -f1)"
} >"$work/manifest"
mv "$work" "$final"
echo "backup: done: $final"
cat "$final/manifest"

if [[ -n ${BACKUP_KEEP:-} ]]; then
  [[ $BACKUP_KEEP =~ ^[1-9][0-9]*$ ]] || die "BACKUP_KEEP must be a whole number of backups to keep (1 or more)."
  # Names sort by time; the newest BACKUP_KEEP complete backups stay.
  find "$destination" -mindepth 1 -maxdepth 1 -type d -name 'chanjgai-*' | sort | head -n "-$BACKUP_KEEP" |
    while IFS= read -r old; do
      echo "backup: removing old backup $old"
      rm -rf "$old"
    done
fi
