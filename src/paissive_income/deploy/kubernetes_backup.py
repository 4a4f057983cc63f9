"""Scheduled backups: a CronJob running `db backup` into a volume of its own, pruned to the newest.

`paissive-income db backup --out-dir /backups --keep N` names each archive by its UTC time, so
the container needs no shell; one backup at a time (concurrencyPolicy Forbid), each within the
hour before the next is due. PostgreSQL admits the backup pods by the stack's NetworkPolicy.
"""

from __future__ import annotations

from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_apps import pod_template
from paissive_income.deploy.kubernetes_objects import manifest

BACKUP_DIR = "/backups"
BACKUP_CLAIM = "paissive-income-backups"
BACKUP_STORAGE = "20Gi"
SCHEDULE = "17 * * * *"  # hourly, off the full hour most jobs crowd: the RPO is one hour
KEEP = 72  # three days of hourly archives
BACKUP_DEADLINE = 3000  # seconds: a stuck backup ends before the next one is due
BACKUP = stack.AppService(
    name="backup",
    command=(
        "paissive-income",
        "db",
        "backup",
        "--out-dir",
        BACKUP_DIR,
        "--keep",
        str(KEEP),
    ),
    description="writes a consistent archive of the database every hour, keeping the newest",
    resources=stack.Resources("100m", "256Mi", "1", "512Mi"),
    env=stack.app_env(),
    secrets=stack.APP_SECRETS,
    writable=("/tmp", stack.INSTANCE_PATH, BACKUP_DIR),
    reaches=("postgres",),
)


def backup_claim() -> dict:
    """The backups' volume: ReadWriteOnce, one backup pod at a time writes it."""
    body = manifest("v1", "PersistentVolumeClaim", BACKUP_CLAIM, BACKUP.name)
    body["spec"] = {
        "accessModes": ["ReadWriteOnce"],
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": BACKUP_STORAGE}},
    }
    return body


def backup_cronjob(image: str) -> dict:
    """The CronJob: hourly, never two at once, the archive folder on the backups' volume."""
    template = pod_template(BACKUP, image)
    template["metadata"].pop("annotations")  # nothing to scrape; a new Job reads the new config
    for volume in template["spec"]["volumes"]:
        if volume["name"] == "backups":
            volume.pop("emptyDir")
            volume["persistentVolumeClaim"] = {"claimName": BACKUP_CLAIM}
    job = {
        "backoffLimit": 2,
        "activeDeadlineSeconds": BACKUP_DEADLINE,
        "template": template,
    }
    body = manifest("batch/v1", "CronJob", BACKUP.name, BACKUP.name)
    body["spec"] = {
        "schedule": SCHEDULE,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"spec": job},
    }
    return body
