# ExportJob moved to the spreadsheets app (spreadsheets 0001): it leaves scoring's state
# only. The table "scoring_exportjob" and its rows stay where they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("scoring", "0007_snapshot_previous"),
        ("spreadsheets", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="ExportJob")],
        ),
    ]
