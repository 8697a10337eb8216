from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0004_privacy_redacted_review_and_anonymised"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="injection_attempts",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="message",
            name="screened",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="message",
            name="timings",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
