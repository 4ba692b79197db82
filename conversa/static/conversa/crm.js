// Conversa CRM: the board's drag and drop and "Move to…" menu (optimistic, rolled back on a
// refusal), realtime refreshes of the board and the list, toasts.
(function () {
  "use strict";
  document.documentElement.classList.add("crm-js");

  // ---------------------------------------------------------------- toasts
  function toast(text, kind) {
    var holder = document.getElementById("toasts");
    if (!holder) return;
    var item = document.createElement("div");
    item.className = "toast " + (kind || "");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    var p = document.createElement("p");
    p.textContent = text; // what the server said is text, never markup
    var close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", holder.getAttribute("data-close") || "Dismiss");
    close.textContent = "✕";
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(p);
    item.appendChild(close);
    holder.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 4000);
  }
  // The server's refusal in plain words, when it sent one (text/plain), else ours.
  function refusal(xhr, fallback) {
    var type = xhr && xhr.getResponseHeader && xhr.getResponseHeader("Content-Type") || "";
    if (xhr && xhr.status && type.indexOf("text/plain") === 0 && xhr.responseText) {
      return xhr.responseText.slice(0, 300);
    }
    var holder = document.getElementById("toasts");
    return (holder && holder.getAttribute(fallback)) || "";
  }
  window.conversaCrm = { toast: toast, refusal: refusal };

  // ---------------------------------------------------------------- the board
  function column(stageId) {
    return document.querySelector('#board .column[data-stage-id="' + stageId + '"]');
  }
  function addToColumn(stageId, leads, value) {
    var col = column(stageId);
    if (!col) return;
    var count = col.querySelector(".column-count");
    var total = col.querySelector(".column-total");
    var n = parseInt(count.getAttribute("data-count"), 10) + leads;
    count.setAttribute("data-count", n);
    count.textContent = n;
    var sum = parseFloat(total.getAttribute("data-total")) + value;
    total.setAttribute("data-total", sum.toFixed(2));
    var label = total.querySelector(".visually-hidden");
    total.textContent = "";
    if (label) total.appendChild(label);
    total.appendChild(document.createTextNode(formatValue(sum)));
  }
  function formatValue(amount) {
    var lang = document.documentElement.lang || "en";
    return new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }).format(amount);
  }
  // The card's "Move to…" menu marks the stage it is in.
  function markCurrent(card, stageId) {
    card.setAttribute("data-stage-id", stageId);
    card.querySelectorAll(".move-form button[name=stage]").forEach(function (b) {
      var here = b.value === String(stageId);
      b.disabled = here;
      if (here) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    });
  }
  var saving = 0;

  // Move a card now, ask the server, and put it back (with a toast) if the server refuses.
  function moveLead(card, stageId) {
    stageId = String(stageId);
    var from = card.getAttribute("data-stage-id");
    if (from === stageId) return; // same stage: nothing to do, nothing sent
    var list = document.querySelector('#board .lead-cards[data-stage-id="' + stageId + '"]');
    if (!list) return;
    var origin = { parent: card.parentNode, next: card.nextSibling };
    var value = parseFloat(card.getAttribute("data-value")) || 0;
    list.insertBefore(card, list.firstChild);
    markCurrent(card, stageId);
    addToColumn(from, -1, -value);
    addToColumn(stageId, 1, value);
    card.classList.add("saving");
    card.setAttribute("aria-busy", "true");
    saving++;

    function done(e) {
      if (e.target !== card) return;
      card.removeEventListener("htmx:afterRequest", done);
      saving--;
      card.classList.remove("saving");
      card.removeAttribute("aria-busy");
      if (e.detail.successful) {
        card.classList.add("just-moved");
        setTimeout(function () { card.classList.remove("just-moved"); }, 700);
        return;
      }
      // Refused or offline: back where it was, the counts as they were.
      if (origin.parent && origin.parent.isConnected) {
        origin.parent.insertBefore(card, origin.next && origin.next.parentNode === origin.parent ? origin.next : null);
        markCurrent(card, from);
        addToColumn(stageId, -1, -value);
        addToColumn(from, 1, value);
      }
      var xhr = e.detail.xhr;
      toast(refusal(xhr, xhr && xhr.status ? "data-move-failed" : "data-offline") || refusal(null, "data-move-failed"), "error");
    }
    card.addEventListener("htmx:afterRequest", done);
    htmx.ajax("POST", card.getAttribute("data-move-url"), {
      source: card,
      values: { stage: stageId },
      swap: "none",
    });
  }

  // HTML5 drag and drop between columns.
  var dragged = null;
  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest(".lead-card");
    if (!card || card.classList.contains("saving")) return;
    dragged = card;
    card.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.getAttribute("data-lead-id"));
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".column.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  document.addEventListener("dragover", function (e) {
    var col = dragged && e.target.closest && e.target.closest("#board .column");
    if (!col) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".column.drop-target").forEach(function (c) {
      if (c !== col) c.classList.remove("drop-target");
    });
    col.classList.add("drop-target");
  });
  document.addEventListener("dragleave", function (e) {
    var col = e.target.closest && e.target.closest("#board .column");
    if (col && !col.contains(e.relatedTarget)) col.classList.remove("drop-target");
  });
  document.addEventListener("drop", function (e) {
    var col = dragged && e.target.closest && e.target.closest("#board .column");
    if (!col) return;
    e.preventDefault();
    col.classList.remove("drop-target");
    var card = dragged;
    card.classList.remove("dragging");
    dragged = null;
    moveLead(card, col.getAttribute("data-stage-id"));
  });

  // The keyboard and touch way: each card's "Move to…" menu.
  document.addEventListener("submit", function (e) {
    var form = e.target.closest(".move-form");
    if (!form || !document.getElementById("board")) return;
    var card = form.closest(".lead-card");
    var button = e.submitter;
    if (!card || !button || button.name !== "stage") return;
    e.preventDefault();
    var menu = form.closest("details");
    if (menu) menu.open = false;
    moveLead(card, button.value);
    var title = card.querySelector(".lead-title");
    if (title) title.focus();
  });

  // ---------------------------------------------------------------- realtime
  // A lead changed elsewhere (another person, an automation): redraw the board or the list,
  // but never under a drag, an open menu or a move still being saved.
  var timer = null;
  function redraw() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var board = document.getElementById("board");
      if (board) {
        if (dragged || saving || board.querySelector("details[open]")) { redraw(); return; }
        htmx.trigger(board, "refresh");
      }
      ["lead-table", "lead-timeline"].forEach(function (id) {
        var el = document.getElementById(id);
        if (el) htmx.trigger(el, "refresh");
      });
    }, 400);
  }
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var event;
    try { event = JSON.parse(e.detail.message); } catch (err) { return; }
    if (event.lead_id !== undefined || event.lead_ids || /^LEAD|^FOLLOW/.test(event.type || "")) redraw();
  });
  document.addEventListener("htmx:wsOpen", function () { if (document.getElementById("board")) redraw(); });
})();
