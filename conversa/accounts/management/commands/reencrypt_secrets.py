from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from conversa.crypto import EncryptedField, forget_keys


class Command(BaseCommand):
    help = (
        "Encrypt every stored secret again under the first of FIELD_ENCRYPTION_KEYS (after a new "
        "key was put first); then the old keys can be removed."
    )

    def handle(self, *args, **options):
        # Keys as this process's environment has them now, not as a cache remembers them.
        forget_keys()
        total = 0
        for model in apps.get_models():
            fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
            if not fields:
                continue
            count = 0
            # Each row read (any key decrypts) and written back (the first key encrypts), in
            # batches of short transactions so a large table never holds one long lock.
            ids = list(model._base_manager.order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(ids), 500):
                with transaction.atomic():
                    rows = model._base_manager.filter(pk__in=ids[start : start + 500])
                    for row in rows.only("pk", *fields).select_for_update():
                        values = {f: getattr(row, f) for f in fields if getattr(row, f)}
                        if values:
                            model._base_manager.filter(pk=row.pk).update(**values)
                            count += 1
            total += count
            self.stdout.write(f"{model._meta.label}: {count} row(s) re-encrypted")
        self.stdout.write(f"{total} row(s) re-encrypted under the first key")
