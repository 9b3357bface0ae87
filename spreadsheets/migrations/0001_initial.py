# ExportJob moved here from scoring: this only adds it to Django's state. Its table, created
# by scoring 0004, keeps its name (db_table "scoring_exportjob"), so no data moves.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import spreadsheets.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        # The table exists before this app claims it.
        ("scoring", "0007_snapshot_previous"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ExportJob",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("counties", "County ranking"),
                                    ("enterprises", "Enterprise ranking"),
                                    ("matrix", "Completion matrix"),
                                ],
                                max_length=16,
                                verbose_name="kind",
                            ),
                        ),
                        ("params", models.JSONField(blank=True, default=dict, verbose_name="parameters")),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Queued"),
                                    ("running", "Running"),
                                    ("done", "Ready"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=16,
                                verbose_name="status",
                            ),
                        ),
                        ("progress", models.PositiveSmallIntegerField(default=0, verbose_name="progress (%)")),
                        ("row_count", models.PositiveIntegerField(default=0, verbose_name="rows")),
                        (
                            "file",
                            models.FileField(
                                blank=True,
                                max_length=255,
                                upload_to=spreadsheets.models.export_upload_to,
                                verbose_name="file",
                            ),
                        ),
                        ("filename", models.CharField(blank=True, max_length=255, verbose_name="file name")),
                        ("error", models.TextField(blank=True, verbose_name="error")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created at")),
                        ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished at")),
                        (
                            "requester",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="requested by",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "export job",
                        "verbose_name_plural": "export jobs",
                        "db_table": "scoring_exportjob",
                        "ordering": ["-created_at", "-pk"],
                        "indexes": [models.Index(fields=["requester", "-created_at"], name="scoring_exp_request_3eb75f_idx")],
                    },
                ),
            ],
        ),
    ]
