// The Contacts list's error state: a page of rows that failed to load (the server or the
// network) says so above the list, and the next successful load hides it again.
(function () {
  "use strict";
  function box() { return document.getElementById("contact-list-error"); }
  function failed(e) {
    if (e.detail.target && e.detail.target.id === "contact-list" && box()) box().hidden = false;
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "contact-list" && box()) box().hidden = true;
  });
})();
