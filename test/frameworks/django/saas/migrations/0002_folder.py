from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [("saas", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="Folder",
            fields=[("id", models.AutoField(primary_key=True, serialize=False)),
                    ("name", models.TextField()),
                    ("organization", models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="saas.organization")),
                    ("parent", models.ForeignKey(
                        null=True, on_delete=django.db.models.deletion.CASCADE, to="saas.folder"))]),
    ]
