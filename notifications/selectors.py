"""Reads for the bell's pages."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import Notification


def notifications_for(user: AbstractBaseUser) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    return Notification.objects.for_user(user).order_by("-created_at", "-pk")
