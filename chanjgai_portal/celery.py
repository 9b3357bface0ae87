import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanjgai_portal.settings")

app = Celery("chanjgai_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app keeps its Celery tasks in `<app>/celery_tasks.py`: a module called `tasks` next to
# the app called `tasks` read as the workflow, not as the queue.
TASKS_MODULE = "celery_tasks"
app.autodiscover_tasks(related_name=TASKS_MODULE)
