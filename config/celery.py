import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("parley")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _publish_through_one_loop(**kwargs) -> None:
    """A worker's broadcasts share one event loop, so the channel layer keeps its Redis connections."""
    from apps.conversations import events

    events.publish_through_one_loop()
