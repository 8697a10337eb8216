from smtplib import SMTPException

from celery import shared_task
from django.conf import settings

from tickets.services import reply_email_send


# Retried with exponential backoff and jitter through a mail server outage. The longest
# wait (retry_backoff_max) stays under the broker's visibility timeout, past which Redis
# would deliver a waiting retry twice.
@shared_task(
    bind=True,
    autoretry_for=(SMTPException, OSError),
    max_retries=settings.REPLY_EMAIL_MAX_RETRIES,
    retry_backoff=settings.REPLY_EMAIL_RETRY_BACKOFF,
    retry_backoff_max=600,
    retry_jitter=True,
    soft_time_limit=60,
    time_limit=90,
)
def send_reply_email(self, reply_email_id: int) -> bool:
    # Safe to run twice: a sent email is marked so, and a second run sends nothing.
    last_try = self.request.retries >= self.max_retries
    return reply_email_send(reply_email_id=reply_email_id, last_try=last_try)
