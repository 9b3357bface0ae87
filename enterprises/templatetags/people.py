"""`{{ user|display_name }}`: a person as the portal names them to others (Profile.display_name).

Lists of people should load their profiles with the user (`select_related("actor__profile__
region", "actor__profile__enterprise")`) or one query per row follows."""

from django import template

from enterprises.models import display_name as _display_name

register = template.Library()


@register.filter
def display_name(user):
    return _display_name(user)
