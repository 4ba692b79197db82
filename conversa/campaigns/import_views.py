"""The contact import pages (owners, admins, supervisors): upload a CSV or XLSX file, map its
columns and check the first rows, then follow the import, which a worker runs, to its end and
download the rows it refused. The work is campaigns.imports'."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.campaigns import imports
from conversa.campaigns.models import ContactImport
from conversa.errors import Refused
from conversa.web import declared_length, operator_view

# What a column may become, in the order the page offers them.
TARGETS = [
    ("", gettext_lazy("Leave out")),
    ("phone", gettext_lazy("Phone")),
    ("name", gettext_lazy("Name")),
    ("tags", gettext_lazy("Tags (comma-separated)")),
    ("consent", gettext_lazy("Marketing consent (yes/no)")),
    ("consent_evidence", gettext_lazy("Consent evidence")),
    ("consent_date", gettext_lazy("Consent date")),
    ("custom", gettext_lazy("Custom field")),
]


def supervisors_only(request) -> None:
    if not request.member.supervises:
        raise PermissionDenied(_("Only owners, admins and supervisors import contacts."))


@operator_view
def import_list(request):
    supervisors_only(request)
    return render(request, "campaigns/imports.html", list_context(request))


def list_context(request, **extra) -> dict:
    recent = scoped(request.org, ContactImport).order_by("-created_at", "-id")[:20]
    return {"imports": recent, "max_mb": imports.MAX_BYTES // (1024 * 1024), **extra}


@require_POST
@operator_view
def upload(request):
    supervisors_only(request)
    given = request.FILES.get("file")
    try:
        if declared_length(request) > imports.MAX_BYTES + 65536:
            raise Refused(_("The file is larger than 20 MB."), field="file")
        if given is None:
            raise Refused(_("Choose a CSV or XLSX file."), field="file")
        imp = imports.upload(
            request.org,
            file_name=given.name or "",
            data=given.read(imports.MAX_BYTES + 1),
            region=request.POST.get("region", "BR")[:2],
            acting_member=request.member,
        )
    except Refused as exc:
        context = list_context(request, error=str(exc))
        return render(request, "campaigns/imports.html", context, status=400)
    return redirect("contact-import", import_id=imp.pk)


@operator_view
def import_page(request, import_id: int):
    supervisors_only(request)
    imp = get_for_org_or_404(request.org, ContactImport, pk=import_id)
    return render(request, "campaigns/import.html", page_context(imp))


def page_context(imp: ContactImport, **extra) -> dict:
    context = {"imp": imp, "targets": TARGETS, **extra}
    if imp.status == ContactImport.Status.DRAFT:
        chosen = {index: name for name, index in imp.mapping.items() if name != "custom"}
        chosen |= {index: "custom" for index in imp.mapping.get("custom", {}).values()}
        rows = imports.preview(imp)
        first = rows[0].row.cells if rows else []
        context["columns"] = [
            {
                "index": i,
                "header": header,
                "sample": first[i] if i < len(first) else "",
                "target": chosen.get(i, ""),
            }
            for i, header in enumerate(imp.headers)
        ]
        context["preview"] = rows if "phone" in imp.mapping else []
        context["refused_in_preview"] = sum(1 for r in rows if r.refused)
    return context


@require_POST
@operator_view
def save_mapping(request, import_id: int):
    """Save the columns' fields; "Import" also starts the import."""
    supervisors_only(request)
    imp = get_for_org_or_404(request.org, ContactImport, pk=import_id)
    columns = {}
    for index in range(len(imp.headers)):
        columns[index] = request.POST.get(f"column_{index}", "")
    try:
        imports.set_mapping(imp, columns, acting_member=request.member)
        if request.POST.get("start"):
            imports.start(imp, acting_member=request.member)
    except Refused as exc:
        return render(
            request, "campaigns/import.html", page_context(imp, error=str(exc)), status=400
        )
    return redirect("contact-import", import_id=imp.pk)


@operator_view
def progress(request, import_id: int):
    """The progress bar and counts, which the page asks for every second while it runs."""
    supervisors_only(request)
    imp = get_for_org_or_404(request.org, ContactImport, pk=import_id)
    return render(request, "campaigns/_import_progress.html", {"imp": imp})


@operator_view
def error_report(request, import_id: int):
    supervisors_only(request)
    imp = get_for_org_or_404(request.org, ContactImport, pk=import_id)
    response = HttpResponse(imports.error_report(imp), content_type="text/csv; charset=utf-8")
    stem = imp.file_name.rsplit(".", 1)[0][:80] or "import"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)
    response["Content-Disposition"] = f'attachment; filename="{safe}-refused.csv"'
    return response
