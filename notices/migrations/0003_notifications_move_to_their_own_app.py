# Notification and OutgoingEmail now belong to the notifications app (its 0001 takes the
# same tables over): removed from this app's state only, no table is touched.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('notices', '0002_outgoing_email'),
        ('notifications', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='OutgoingEmail'),
                migrations.DeleteModel(name='Notification'),
            ],
            database_operations=[],
        ),
    ]
