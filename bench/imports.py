"""`conversa bench import`: a contact list of N rows imported the way a worker imports one, on
the configured database.

1. A throwaway organization and its owner; a CSV of N rows (phone in the national form,
   name, two tags, a custom field, consent yes/no with its date), one row in 100 with an
   invalid number and one in 50 repeating an earlier person in the other Brazilian form.
2. Timed: the upload (stored, header read, rows counted), the mapping, then the import run
   by `campaigns.imports.run`, as a worker that claimed it runs it, to its end.
Figures: rows, seconds, rows/s, the contacts the import names (`ImportedContact`), peak
memory of this process. Everything is deleted afterwards.
"""

import resource
import secrets
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from conversa.accounts.models import Member, Organization
from conversa.campaigns import imports
from conversa.campaigns.models import Consent, ContactImport, ImportedContact
from conversa.inbox.models import Contact, ContactIdentity


def sample_csv(rows: int) -> bytes:
    lines = ["telefone;nome;etiquetas;cidade;consentimento;data do consentimento"]
    for i in range(rows):
        phone = f"(11) 9{7000_0000 + i:08d}"
        if i % 100 == 99:
            phone = "123"
        elif i % 50 == 49:
            phone = f"11 {7000_0000 + i - 1:08d}"  # the row before, without its ninth digit
        consent = "sim" if i % 3 else "não"
        lines.append(f"{phone};Cliente {i};vip,bench;São Paulo;{consent};2026-01-0{1 + i % 9}")
    return ("\n".join(lines) + "\n").encode()


def run(rows: int) -> dict:
    suffix = secrets.token_hex(3)
    org = Organization.objects.create(name=f"bench {suffix}", slug=f"bench-{suffix}")
    user = get_user_model().objects.create_user(username=f"bench-{suffix}", password=None)
    owner = Member.objects.create(organization=org, user=user, role=Member.Role.OWNER)
    data = sample_csv(rows)
    try:
        began = time.monotonic()
        imp = imports.upload(org, file_name="bench.csv", data=data, acting_member=owner)
        columns = {0: "phone", 1: "name", 2: "tags", 3: "custom", 4: "consent", 5: "consent_date"}
        imports.set_mapping(imp, columns, acting_member=owner)
        imports.start(imp, acting_member=owner)
        # Claimed as a worker claims it (this one, not another import left in the database).
        ContactImport.objects.filter(pk=imp.pk).update(
            status=ContactImport.Status.RUNNING,
            claimed_by="bench",
            claimed_until=timezone.now() + timedelta(hours=1),
        )
        imp.refresh_from_db()
        imports.run(imp, "bench", seconds=3600)
        seconds = time.monotonic() - began
        imp.refresh_from_db()
        return {
            "rows": rows,
            "database": connection.vendor,
            "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds),
            "status": imp.status,
            "contacts": Contact.objects.filter(organization=org).count(),
            "refused": imp.refused_count,
            "merged": imp.merged_count,
            "consents": imp.consent_count,
            "imported_contacts": ImportedContact.objects.filter(contact_import=imp).count(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    finally:
        for model in (Consent, ContactIdentity, ImportedContact):
            model.objects.filter(organization=org)._raw_delete(model.objects.db)
        Contact.tags.through.objects.filter(contact__organization=org).delete()
        Contact.objects.filter(organization=org)._raw_delete(Contact.objects.db)
        for imp in ContactImport.objects.filter(organization=org):
            imp.file.delete(save=False)
        org.delete()
        user.delete()
