def organization(request):
    return {"org": getattr(request, "org", None), "member": getattr(request, "member", None)}
