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
    setTimeout(function () { item.remove(); }, kind === "error" || kind === "notice" ? 8000 : 4000);
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
  // As the server writes it (conversa/money.py): the organization's currency, cents only
  // when there are some.
  function formatValue(amount) {
    var lang = document.documentElement.lang || "en";
    var board = document.getElementById("board");
    var currency = (board && board.getAttribute("data-currency")) || "BRL";
    var cents = Math.round(amount * 100) % 100 !== 0;
    return new Intl.NumberFormat(lang, {
      style: "currency", currency: currency, currencyDisplay: "symbol",
      minimumFractionDigits: cents ? 2 : 0, maximumFractionDigits: cents ? 2 : 0,
    }).format(amount);
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
        // What the move scheduled (follow-ups, or why none will go), from the server's answer.
        var answer = document.createElement("template");
        answer.innerHTML = e.detail.xhr.responseText;
        var notice = answer.content.querySelector("[data-move-notice]");
        if (notice) toast(notice.textContent, "notice");
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

  // A card's menu is placed over the page, not inside its column (whose scrolling would clip
  // it); on a phone it is a sheet at the bottom (crm.css).
  document.addEventListener("toggle", function (e) {
    var menu = e.target;
    if (!menu.classList || !menu.classList.contains("move-menu") || !menu.open) return;
    var body = menu.querySelector(".menu-body");
    if (window.matchMedia("(max-width: 760px)").matches) return;
    var at = menu.querySelector("summary").getBoundingClientRect();
    var width = body.offsetWidth || 220;
    var height = body.offsetHeight || 240;
    var below = at.bottom + 4 + height <= window.innerHeight;
    body.style.position = "fixed";
    body.style.left = Math.max(8, Math.min(at.right - width, window.innerWidth - width - 8)) + "px";
    body.style.top = (below ? at.bottom + 4 : Math.max(8, at.top - height - 4)) + "px";
    body.style.right = "auto";
  }, true);
  function closeMenus() {
    document.querySelectorAll("#board details.move-menu[open]").forEach(function (d) { d.open = false; });
  }
  document.addEventListener("scroll", function (e) {
    if (e.target.closest && e.target.closest(".move-menu")) return;
    closeMenus();
  }, true);
  window.addEventListener("resize", closeMenus);
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var open = document.querySelector("#board details.move-menu[open]");
    if (open) { open.open = false; open.querySelector("summary").focus(); }
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

  // ---------------------------------------------------------------- automations
  // The slide-over: the editor opens beside the list (which stays visible behind it).
  var opener = null;
  function slideOver() { return document.getElementById("slide-over"); }
  function openSlideOver() {
    var panel = slideOver();
    if (!panel) return;
    panel.hidden = false;
    var first = panel.querySelector("#automation-error, input[name=name]");
    if (first) first.focus();
  }
  function closeSlideOver(clear) {
    var panel = slideOver();
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    if (clear) document.getElementById("slide-over-body").innerHTML = "";
    if (opener && opener.isConnected) opener.focus();
  }
  document.addEventListener("click", function (e) {
    var open = e.target.closest("[data-opens-slide-over]");
    if (open) opener = open;
    if (e.target.closest("[data-close-slide-over]")) {
      e.preventDefault();
      closeSlideOver(true);
    }
    if (e.target.closest("[data-close-dispatch]")) closeDispatch();
    var form = e.target.closest("#automation-form");
    if (!form) return;
    var step = e.target.closest(".step-editor");
    if (e.target.closest("[data-step-add]")) {
      var blank = form.querySelector("#step-blank");
      var list = form.querySelector("#step-list");
      list.appendChild(blank.content.firstElementChild.cloneNode(true));
      stepsChanged(form);
      list.lastElementChild.querySelector("textarea").focus();
    } else if (step && e.target.closest("[data-step-remove]")) {
      var next = step.nextElementSibling || step.previousElementSibling;
      step.remove();
      stepsChanged(form);
      if (next) next.querySelector("textarea").focus();
    } else if (step && e.target.closest("[data-step-up]") && step.previousElementSibling) {
      step.parentNode.insertBefore(step, step.previousElementSibling);
      stepsChanged(form);
      e.target.closest("button").focus();
    } else if (step && e.target.closest("[data-step-down]") && step.nextElementSibling) {
      step.parentNode.insertBefore(step.nextElementSibling, step);
      stepsChanged(form);
      e.target.closest("button").focus();
    } else if (e.target.closest("[data-variable]")) {
      insertVariable(form, e.target.closest("[data-variable]").getAttribute("data-variable"));
    }
  });
  // Steps are numbered as shown; each preview keeps the id the server's check answers for.
  function stepsChanged(form) {
    form.querySelectorAll("#step-list > .step-editor").forEach(function (step, i) {
      step.querySelector(".step-n").textContent = i + 1;
      step.querySelector("[data-step-preview]").id = "step-preview-" + i;
    });
    htmx.trigger(form, "conversa:steps-changed");
  }
  var lastMessage = null;
  document.addEventListener("focusin", function (e) {
    if (e.target.name === "step-template") lastMessage = e.target;
  });
  function insertVariable(form, name) {
    var box = lastMessage && form.contains(lastMessage) ? lastMessage : form.querySelector("textarea[name=step-template]");
    if (!box) return;
    var text = "{{" + name + "}}";
    var at = box.selectionStart || box.value.length;
    box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd || at);
    box.focus();
    box.setSelectionRange(at + text.length, at + text.length);
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var panel = slideOver();
    if (panel && !panel.hidden) { e.preventDefault(); closeSlideOver(true); }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    var id = e.detail.target && e.detail.target.id;
    if (id === "slide-over-body") openSlideOver();
    if (id === "dispatch-body" || (e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("#dispatch-body"))) dispatchShown();
  });

  // Optimistic save: the row changes at once and the panel closes; a refusal puts the row
  // back and opens the panel again with the service's words.
  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (value !== undefined) el.textContent = value;
    return el;
  }
  function optimisticRow(form) {
    var row = text("article", "flow-row card saving");
    var holder = document.getElementById("toasts");
    var head = text("header", "flow-head");
    var name = text("div", "flow-name");
    var h2 = text("h2", "", form.querySelector("[name=name]").value);
    h2.setAttribute("data-saving", (holder && holder.getAttribute("data-saving")) || "…");
    name.appendChild(h2);
    head.appendChild(name);
    row.appendChild(head);
    var flow = text("ol", "flow");
    var stage = form.querySelector("[name=stage]");
    var trigger = text("li", "flow-block flow-trigger");
    trigger.appendChild(text("span", "flow-kind", "▶"));
    trigger.appendChild(text("p", "flow-what", stage.selectedOptions.length ? stage.selectedOptions[0].textContent : ""));
    flow.appendChild(trigger);
    form.querySelectorAll("#step-list > .step-editor").forEach(function (step, i) {
      var arrow = text("li", "flow-arrow");
      arrow.appendChild(text("span"));
      flow.appendChild(arrow);
      var block = text("li", "flow-block flow-action");
      block.appendChild(text("span", "flow-kind", "#" + (i + 1)));
      block.appendChild(text("p", "flow-preview", step.querySelector("textarea").value.slice(0, 240)));
      flow.appendChild(block);
    });
    row.appendChild(flow);
    return row;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.id !== "automation-form" || !window.fetch) return;
    e.preventDefault();
    var list = document.getElementById("automation-list");
    var id = form.getAttribute("data-automation-id");
    var old = id ? document.getElementById("automation-" + id) : null;
    var row = optimisticRow(form);
    var empty = document.getElementById("automations-empty");
    if (old) old.replaceWith(row);
    else if (list) list.insertBefore(row, list.firstChild);
    if (empty) empty.hidden = true;
    var body = new FormData(form);
    slideOver().hidden = true;
    function rollback() {
      if (old) row.replaceWith(old); else row.remove();
      if (empty) empty.hidden = false;
    }
    fetch(form.action, { method: "POST", body: body, headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (html) { return { response: response, html: html }; });
      })
      .then(function (r) {
        var type = r.response.headers.get("Content-Type") || "";
        if (r.response.ok) {
          var tpl = document.createElement("template");
          tpl.innerHTML = r.html.trim();
          var saved = tpl.content.firstElementChild;
          row.replaceWith(saved);
          htmx.process(saved);
          document.getElementById("slide-over-body").innerHTML = "";
          toast(document.getElementById("toasts").getAttribute("data-saved"), "");
          return;
        }
        rollback();
        if (type.indexOf("text/html") === 0 && r.html.indexOf("automation-form") !== -1) {
          var holder = document.getElementById("slide-over-body");
          holder.innerHTML = r.html;
          htmx.process(holder);
          openSlideOver();
          toast(document.getElementById("toasts").getAttribute("data-not-saved"), "error");
        } else {
          slideOver().hidden = false;
          toast(type.indexOf("text/plain") === 0 ? r.html : document.getElementById("toasts").getAttribute("data-not-saved"), "error");
        }
      })
      .catch(function () {
        rollback();
        slideOver().hidden = false;
        toast(document.getElementById("toasts").getAttribute("data-offline"), "error");
      });
  });

  // "Dispatch now": the panel shows the work queued → processing → done; closing it stops
  // only the polling, never the dispatch.
  function dispatchShown() {
    var overlay = document.getElementById("dispatch-overlay");
    if (!overlay) return;
    overlay.hidden = false;
    var run = overlay.querySelector(".dispatch");
    if (run && run.getAttribute("data-phase") === "done" && !run.hasAttribute("data-counted")) {
      run.setAttribute("data-counted", "");
      var rows = document.getElementById("automation-list");
      if (rows && !rows.querySelector(".saving")) htmx.trigger(rows, "refresh");
    }
  }
  function closeDispatch() {
    var overlay = document.getElementById("dispatch-overlay");
    if (!overlay) return;
    overlay.hidden = true;
    document.getElementById("dispatch-body").innerHTML = "";
    var button = document.getElementById("dispatch-now");
    if (button) button.focus();
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.elt.id === "dispatch-form") {
      var overlay = document.getElementById("dispatch-overlay");
      var body = document.getElementById("dispatch-body");
      if (!body.querySelector(".dispatch")) body.innerHTML = '<p class="muted small">' + body.getAttribute("data-starting") + "</p>";
      overlay.hidden = false;
    }
  });
  // A refused pause, resume, delete or dispatch: the server's words in a toast.
  document.addEventListener("htmx:responseError", function (e) {
    if (!e.detail.elt.closest("#automation-list, .command-bar, #dispatch-overlay")) return;
    toast(refusal(e.detail.xhr, "data-not-saved"), "error");
  });
  document.addEventListener("htmx:sendError", function (e) {
    if (!e.detail.elt.closest("#automation-list, .command-bar, #dispatch-overlay, #crm-filters")) return;
    toast(refusal(null, "data-offline"), "error");
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
      var rows = document.getElementById("automation-list");
      if (rows && !rows.querySelector(".saving, details[open]")) htmx.trigger(rows, "refresh");
    }, 400);
  }
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var event;
    try { event = JSON.parse(e.detail.message); } catch (err) { return; }
    if (event.lead_ids) redraw(); // LEAD_UPDATED, FOLLOWUPS_UPDATED
  });
  // Back after a disconnection: what changed meanwhile (the first connection has nothing new).
  var opened = false;
  document.addEventListener("htmx:wsOpen", function () {
    if (opened) redraw();
    opened = true;
  });
})();
