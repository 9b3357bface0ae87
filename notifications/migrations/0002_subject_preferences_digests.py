"""Notifications get a subject (what they are about, for marking read on action), users an
e-mail preference, and digests their record. Existing rows: the subject is filled from the
link where it names a task, notice or need; the unread per-item "waiting for your review"
notifications are marked read, since the review queue's count now says what waits."""

import re

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


SUBJECT_OF_LINK = [
    (re.compile(r"^/tasks/assignments/(\d+)/$"), "assignment"),
    (re.compile(r"^/notices/(\d+)/$"), "notice"),
    (re.compile(r"^/notices/needs/(\d+)/$"), "need"),
]


def backfill(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    links = list(Notification.objects.exclude(link="").values_list("link", flat=True).distinct())
    for link in links:
        for pattern, what in SUBJECT_OF_LINK:
            match = pattern.match(link)
            if match:
                Notification.objects.filter(link=link, subject="").update(subject=f"{what}:{match.group(1)}")
                break
    Notification.objects.filter(kind="forwarded", read_at__isnull=True).update(read_at=django.utils.timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Digest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('queue', 'Review queue digest'), ('email', 'E-mail digest')], max_length=16, verbose_name='kind')),
                ('day', models.DateField(verbose_name='day')),
                ('covers_until', models.DateTimeField(verbose_name='covers until')),
                ('new_count', models.PositiveIntegerField(default=0, verbose_name='new items')),
                ('total_count', models.PositiveIntegerField(default=0, verbose_name='items in all')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
            ],
            options={
                'verbose_name': 'digest',
                'verbose_name_plural': 'digests',
            },
        ),
        migrations.CreateModel(
            name='EmailPreference',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('delivery', models.CharField(choices=[('immediate', 'Immediately, one e-mail per notification'), ('daily', 'A daily digest'), ('none', 'No e-mail')], default='immediate', max_length=16, verbose_name='e-mail delivery')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
            ],
            options={
                'verbose_name': 'e-mail preference',
                'verbose_name_plural': 'e-mail preferences',
            },
        ),
        migrations.AddField(
            model_name='notification',
            name='subject',
            field=models.CharField(blank=True, default='', max_length=64, verbose_name='subject'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='kind',
            field=models.CharField(choices=[('returned', 'Returned to you'), ('forwarded', 'Waiting for your review'), ('scored', 'Scored'), ('deadline', 'Deadline reminder'), ('notice', 'New notice'), ('need', 'Need or problem'), ('digest', 'New items to review')], max_length=16, verbose_name='kind'),
        ),
        migrations.AlterField(
            model_name='outgoingemail',
            name='notification',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='email', to='notifications.notification', verbose_name='notification'),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(condition=models.Q(('read_at__isnull', True)), fields=['subject', 'recipient'], name='notification_unread_subject'),
        ),
        migrations.AddField(
            model_name='digest',
            name='notification',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='notifications.notification', verbose_name='notification'),
        ),
        migrations.AddField(
            model_name='digest',
            name='recipient',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='digests', to=settings.AUTH_USER_MODEL, verbose_name='recipient'),
        ),
        migrations.AddField(
            model_name='outgoingemail',
            name='digest',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='email', to='notifications.digest', verbose_name='digest'),
        ),
        migrations.AddConstraint(
            model_name='outgoingemail',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('digest__isnull', True), ('notification__isnull', False)), models.Q(('digest__isnull', False), ('notification__isnull', True)), _connector='OR'), name='outgoing_email_of_one_thing'),
        ),
        migrations.AddField(
            model_name='emailpreference',
            name='user',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='email_preference', to=settings.AUTH_USER_MODEL, verbose_name='user'),
        ),
        migrations.AddIndex(
            model_name='digest',
            index=models.Index(fields=['recipient', 'kind', '-covers_until'], name='digest_latest'),
        ),
        migrations.AddConstraint(
            model_name='digest',
            constraint=models.UniqueConstraint(fields=('recipient', 'kind', 'day'), name='digest_once_a_day'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
