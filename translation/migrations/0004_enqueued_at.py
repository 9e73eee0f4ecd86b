from django.db import migrations, models
from django.db.models import F


def enqueued_when_created(apps, schema_editor):
    """Rows from before the field: their task was handed to the queue when they were made."""
    Translation = apps.get_model("translation", "Translation")
    Translation.objects.filter(enqueued_at__isnull=True).update(enqueued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("translation", "0003_call_and_lanes"),
    ]

    operations = [
        migrations.AddField(
            model_name="translation",
            name="enqueued_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.RunPython(enqueued_when_created, migrations.RunPython.noop),
    ]
