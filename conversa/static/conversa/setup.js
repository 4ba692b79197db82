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

// "Add number": the fields of a provider that is not chosen are hidden (app.css) and disabled
// here, so what they hold is not sent (the server ignores it too, numbers/forms.py). After a
// refused submit the first field in error takes the focus.
(function () {
  const wizard = document.querySelector("form[data-wizard]");
  if (!wizard) return;
  function sync() {
    const chosen = wizard.querySelector("input[name=provider]:checked");
    wizard.querySelectorAll("[data-provider-fields]").forEach(function (group) {
      const off = !chosen || group.getAttribute("data-provider-fields") !== chosen.value;
      group.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = off; });
    });
  }
  wizard.addEventListener("change", function (e) { if (e.target.name === "provider") sync(); });
  sync();
  const invalid = wizard.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
})();

// The pairing page's values to copy into Meta (callback URL, verify token) select themselves
// when focused; delegated, as htmx redraws the pairing card.
document.addEventListener("focusin", function (e) {
  if (e.target.matches && e.target.matches("input[data-select-all]")) e.target.select();
});
