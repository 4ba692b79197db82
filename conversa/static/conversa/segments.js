// The segment form's live count: a count that failed to load (the server or the network)
// says so under the last one shown, and the next successful count hides it again.
(function () {
  "use strict";
  function box() { return document.getElementById("segment-count-failed"); }
  function failed(e) {
    if (e.detail.target && e.detail.target.id === "segment-count" && box()) box().hidden = false;
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "segment-count" && box()) box().hidden = true;
  });
})();
