// The organization form starts on the browser's own time zone when it is in the list.
(function () {
  const form = document.querySelector("[data-setup]");
  if (!form || form.querySelector(".field-error")) return;
  const select = form.querySelector("select[name=time_zone]");
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  if (select && zone && select.querySelector(`option[value="${CSS.escape(zone)}"]`)) {
    select.value = zone;
  }
})();
