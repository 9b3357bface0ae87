# The portal's image: the web process (gunicorn), the Celery worker and beat all run it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext: compilemessages for the zh_Hans UI (build time only, but small).
# postgresql-client-$PG_MAJOR: pg_dump, pg_restore and psql for scripts/backup.sh and
# scripts/restore.sh. pg_dump refuses a server newer than itself and a newer pg_dump writes
# settings an older server rejects, so it must match the server (postgres:16 in
# docker-compose.yml); Debian's own client is whatever its release ships, hence the
# PostgreSQL project's apt repository (its key ships with postgresql-common).
# fonts-noto-cjk: evidence previews (tasks/previews.py, PDFium) draw a PDF's text with the
# system's fonts when the PDF does not embed its own, as many Chinese office PDFs (宋体) and the
# demo's do; without a CJK font their pages render with blank text.
ARG PG_MAJOR=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext postgresql-common fonts-noto-cjk \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The runtime set only: test and development tools are in requirements-dev.txt.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files and translations are built into the image; SECRET_KEY here is a placeholder
# for these two commands only (settings refuse to load without one when DEBUG is off).
RUN SECRET_KEY=build-only-not-secret python manage.py compilemessages --ignore=.venv \
    && SECRET_KEY=build-only-not-secret STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 --home-dir /app portal \
    && mkdir -p /data/media /backups \
    && chown -R portal /data /backups
USER portal

ENV MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/staticfiles

EXPOSE 8000
CMD ["gunicorn", "chanjgai_portal.wsgi", "--config", "gunicorn.conf.py"]
