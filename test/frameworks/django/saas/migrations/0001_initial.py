from django.db import migrations, models
import django.db.models.deletion

from perfaudit.django import CreatePerfauditExtension


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        # The extension in the test database Django creates (the helper's
        # migration operation: CREATE EXTENSION IF NOT EXISTS pg_perfaudit).
        CreatePerfauditExtension(),
        migrations.CreateModel(
            name="Organization",
            fields=[("id", models.AutoField(primary_key=True, serialize=False)),
                    ("name", models.TextField())]),
        migrations.CreateModel(
            name="Server",
            fields=[("id", models.AutoField(primary_key=True, serialize=False)),
                    ("name", models.TextField()),
                    ("organization", models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="saas.organization"))]),
        migrations.CreateModel(
            name="Application",
            fields=[("id", models.AutoField(primary_key=True, serialize=False)),
                    ("name", models.TextField()),
                    ("organization", models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="saas.organization")),
                    ("server", models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="saas.server"))]),
    ]
