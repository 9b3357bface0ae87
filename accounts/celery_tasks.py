"""Celery jobs of login security."""

from celery import shared_task

from . import onboarding, password_reset, security


# The name is the one it had in the enterprises app: CELERY_BEAT_SCHEDULE and queued messages use it.
@shared_task(name="enterprises.delete_expired_api_tokens")
def delete_expired_api_tokens():
    """Delete API tokens past their expiry that nobody sent again (security.delete_expired_tokens)."""
    return security.delete_expired_tokens()


@shared_task(name="accounts.delete_expired_account_sheets")
def delete_expired_account_sheets():
    """Delete the account sheets (initial passwords) past their download window, and the
    忘记密码 requests older than the hour they are counted in."""
    return onboarding.delete_expired_sheets() + password_reset.forget_old_requests()
