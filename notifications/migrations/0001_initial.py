# Notification and OutgoingEmail moved here from the notices app: state only, the tables
# (notices_notification, notices_outgoingemail) stay as they are.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        # The tables are created there; this app takes them over.
        ('notices', '0002_outgoing_email'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Notification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('returned', 'Returned to you'), ('forwarded', 'Waiting for your review'), ('scored', 'Scored'), ('deadline', 'Deadline reminder'), ('notice', 'New notice'), ('need', 'Need or problem')], max_length=16, verbose_name='kind')),
                        ('text', models.CharField(max_length=500, verbose_name='text')),
                        ('link', models.CharField(blank=True, max_length=300, verbose_name='link')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                        ('read_at', models.DateTimeField(blank=True, null=True, verbose_name='read at')),
                        ('emailed_at', models.DateTimeField(blank=True, null=True, verbose_name='emailed at')),
                        ('recipient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL, verbose_name='recipient')),
                    ],
                    options={
                        'verbose_name': 'notification',
                        'verbose_name_plural': 'notifications',
                        'db_table': 'notices_notification',
                        'ordering': ['-created_at', '-pk'],
                        'indexes': [
                            models.Index(fields=['recipient', 'read_at'], name='notification_recipient_read'),
                            models.Index(fields=['recipient', '-created_at'], name='notification_recipient_new'),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name='OutgoingEmail',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('to', models.EmailField(max_length=254, verbose_name='to')),
                        ('subject', models.CharField(max_length=300, verbose_name='subject')),
                        ('body', models.TextField(verbose_name='body')),
                        ('status', models.CharField(choices=[('pending', 'Waiting to be sent'), ('sent', 'Sent'), ('failed', 'Gave up')], default='pending', max_length=16, verbose_name='status')),
                        ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='next attempt at')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                        ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                        ('last_error', models.TextField(blank=True, verbose_name='last error')),
                        ('notification', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='email', to='notifications.notification', verbose_name='notification')),
                    ],
                    options={
                        'verbose_name': 'outgoing e-mail',
                        'verbose_name_plural': 'outgoing e-mails',
                        'db_table': 'notices_outgoingemail',
                        'ordering': ['next_attempt_at', 'pk'],
                        'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='outgoing_email_due')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
