// Conversa's small amount of our own JS: realtime events → htmx refreshes, socket status,
// the operator view's keyboard and composer helpers.
(function () {
  "use strict";
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "409", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];
  // Reconnect with exponential backoff and jitter: 0.5 s, 1 s, 2 s … at most 30 s.
  htmx.config.wsReconnectDelay = function (retries) {
    var base = Math.min(30000, 500 * Math.pow(2, retries));
    return base / 2 + Math.random() * base / 2;
  };

  // A refresh per element at most every 150 ms, however many events arrive together.
  var pending = {};
  function refresh(id) {
    if (pending[id]) return;
    pending[id] = setTimeout(function () {
      delete pending[id];
      fire(id);
    }, 150);
  }
  function fire(id) {
    if (out[id]) { again[id] = true; return; }
    var el = document.getElementById(id);
    if (el) htmx.trigger(el, "refresh");
  }
  // A part redrawn whole, by its refresh or by an action's answer (a number's Pause, say), can
  // have two requests out at once. htmx drops an answer whose element another answer already
  // replaced, and a refresh queued on that element with it: the part would keep whichever
  // answer landed first, maybe the older one (a refresh sent before the pause). So a refresh
  // waits for the requests out, and the part is fetched again when an answer came too late.
  var out = {}; // id → requests out whose answer replaces that element
  var again = {}; // id → fetch it again once they are all back
  document.addEventListener("htmx:beforeSend", function (e) {
    var target = e.detail.target, xhr = e.detail.xhr, id = target && target.id;
    if (!id || !xhr) return;
    out[id] = (out[id] || 0) + 1;
    xhr.addEventListener("readystatechange", function () {
      // Before htmx reads the answer: is its element still on the page?
      if (xhr.readyState === 4 && !document.body.contains(target)) again[id] = true;
    });
    xhr.addEventListener("loadend", function () {
      out[id] -= 1;
      if (!out[id] && again[id]) { delete again[id]; refresh(id); }
    });
  });
  // Shared with presence.js, whose live events redraw elements the same way.
  window.conversaRefresh = refresh;
  // A campaign's page moves with every send and status of thousands of messages: redrawn at
  // most every 2 s, from the events that change it.
  var slow = {};
  function refreshSlowly(id) {
    if (slow[id] || !document.getElementById(id)) return;
    slow[id] = setTimeout(function () {
      delete slow[id];
      fire(id);
    }, 2000);
  }
  function currentConversation() {
    var workspace = document.getElementById("workspace");
    if (workspace) return workspace.getAttribute("data-conversation") || "";
    var inbox = document.querySelector(".inbox");
    return inbox ? inbox.getAttribute("data-conversation") : "";
  }
  // An event names its objects in plural keys, a list even for one (realtime/events.py).
  function handle(event) {
    if (event.conversation_ids) {
      refresh("conversation-list");
      if (event.conversation_ids.map(String).indexOf(currentConversation()) !== -1) {
        refreshCurrent(event.type);
      }
    }
    if (event.type === "CONTACT_UPDATED") { refresh("contact-panel"); refresh("conversation-list"); }
    if (event.intent_ids) refresh("intents");
    if (event.intent_ids || event.message_ids || event.number_ids || event.campaign_ids) {
      refreshSlowly("campaign-live");
    }
    if (event.number_ids) {
      refresh("numbers"); refresh("pairing");
      // The kill switch banner, and the conversation's hold banner when its number changed,
      // with the thread: why each held reply waits (paused, disconnected…) changes with it.
      refresh("org-banner");
      var hold = document.getElementById("hold-banner");
      if (hold && event.number_ids.map(String).indexOf(hold.getAttribute("data-number")) !== -1) {
        refresh("hold-banner");
        if (document.querySelector("#messages-wrap .message-held")) refresh("messages-wrap");
      }
    }
  }
  function refreshCurrent(type) {
    if (type === "CONVERSATION_ASSIGNED" || type === "CONVERSATION_UPDATED") {
      refresh("thread-head");
      refresh("assistant-banner"); // it stops when a person takes over, or hands over
      refresh("messages-wrap"); // the history's "assigned to X", "resolved by Y"
      if (type === "CONVERSATION_UPDATED") refresh("contact-panel");
      return;
    }
    refresh("messages-wrap");
    if (type === "MESSAGE_RECEIVED") customerWrote();
  }
  // The customer wrote: the 24-hour window starts again. A composer in template mode (or
  // showing a closed window) is redrawn unless something is typed in it.
  function customerWrote() {
    var composer = document.getElementById("composer");
    if (!composer) return;
    var box = document.getElementById("reply-body");
    var closed = composer.querySelector(".window-closed");
    if (composer.getAttribute("data-mode") === "template" || closed) {
      if (!box || !box.value) refresh("composer-holder");
      return;
    }
    var left = composer.querySelector("[data-ends-at]");
    if (left) {
      left.setAttribute("data-ends-at", new Date(Date.now() + 864e5).toISOString());
      tickWindow();
    }
  }
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    e.preventDefault(); // our events are JSON, not HTML to swap
    try { handle(JSON.parse(e.detail.message)); } catch (err) { console.error(err); }
  });
  // An action answered by this page (claim, resolve…): its list changes now, socket or not.
  document.addEventListener("conversa:changed", function () { refresh("conversation-list"); });

  // The socket: a banner and the "Live" dot while it is down; it comes back on its own.
  var retries = 0;
  function socketStatus(connected) {
    var el = document.getElementById("socket-status");
    if (el) el.hidden = connected;
    document.body.setAttribute("data-socket", connected ? "open" : "closed");
    var live = document.querySelector(".live-label");
    if (live) live.textContent = live.getAttribute(connected ? "data-open" : "data-closed");
  }
  document.addEventListener("htmx:wsOpen", function () {
    retries = 0;
    socketStatus(true);
    // Anything that changed while we were away: fetch it now.
    refresh("conversation-list");
    if (currentConversation()) { refresh("messages-wrap"); refresh("thread-head"); }
    refresh("intents");
    refresh("numbers");
    refresh("pairing");
    refresh("org-banner");
    refresh("hold-banner");
  });
  document.addEventListener("htmx:wsClose", function (e) {
    socketStatus(false);
    // htmx's extension retries abnormal closes itself; a clean close (a server restarting
    // with 1001, say) we retry here, with the same backoff.
    var code = e.detail.event && e.detail.event.code;
    var wrapper = e.detail.socketWrapper;
    if ([1006, 1011, 1012, 1013].indexOf(code) === -1 && wrapper && wrapper.reconnect) {
      setTimeout(function () { wrapper.reconnect(); }, htmx.config.wsReconnectDelay(retries++));
    }
  });

  // A refusal answered as text (conversa.web.refused): its words, for a few seconds, above the
  // page. The CRM's pages show theirs in their own toasts (crm.js).
  var alertTimer = null;
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    var type = (xhr && xhr.getResponseHeader("Content-Type")) || "";
    var box = document.getElementById("page-alert");
    if (!box || document.getElementById("toasts")) return;
    if (type.indexOf("text/plain") !== 0 || !xhr.responseText) return;
    box.textContent = xhr.responseText.slice(0, 300); // the server's words, as text
    box.hidden = false;
    clearTimeout(alertTimer);
    alertTimer = setTimeout(function () { box.hidden = true; }, 8000);
  });

  // A live refresh of the header keeps a menu the operator has open (Snooze, Hand over) open;
  // an action taken in the menu (a POST) redraws the header with it closed.
  var openMenus = [];
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    openMenus = [];
    if (!target || target.id !== "thread-head" || e.detail.requestConfig.verb !== "get") return;
    target.querySelectorAll("details.menu[open] > summary[data-action]").forEach(function (s) {
      openMenus.push(s.getAttribute("data-action"));
    });
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (!openMenus.length || !e.detail.target || e.detail.target.id !== "thread-head") return;
    openMenus.forEach(function (action) {
      var summary = e.detail.target.querySelector('details.menu > summary[data-action="' + action + '"]');
      if (summary) summary.parentNode.open = true;
    });
    openMenus = [];
  });

  // The list keeps as many rows as it shows when an event refreshes it.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.elt.id === "conversation-list") {
      var loaded = document.querySelectorAll("#conversation-items .conversation").length;
      if (loaded > 50) e.detail.parameters.limit = Math.min(loaded, 200);
    }
  });

  // Keep the newest message in view after the thread is (re)drawn, unless the reader has
  // scrolled up to read older ones.
  var stickToBottom = true;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var wrap = document.getElementById("messages-wrap");
    if (wrap) stickToBottom = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 80;
    if (e.detail.target && e.detail.target.id === "workspace") stickToBottom = true;
  });
  function toBottom(force) {
    document.querySelectorAll(".messages-wrap, #chat").forEach(function (el) {
      if (force || stickToBottom) el.scrollTop = el.scrollHeight;
    });
  }
  document.addEventListener("htmx:afterSettle", function (e) {
    toBottom(false);
    if (e.detail.target && e.detail.target.id === "workspace") picked();
    // A list redrawn by a refresh sent before the conversation was opened marks no row.
    if (e.detail.target && e.detail.target.id === "conversation-list") markRows(currentConversation());
    tickWindow();
  });

  // A conversation picked in the list: mark it, and tell the page which one is open.
  function picked() {
    var id = currentConversation();
    var inbox = document.getElementById("inbox");
    if (inbox) {
      inbox.setAttribute("data-conversation", id);
      inbox.classList.toggle("has-current", !!id);
      inbox.classList.remove("show-contact");
    }
    var hidden = document.querySelector("#list-filters input[name=current]");
    if (hidden) hidden.value = id;
    markRows(id);
  }
  function markRows(id) {
    document.querySelectorAll(".conversation").forEach(function (link) {
      var active = link.getAttribute("data-conversation-id") === id;
      link.classList.toggle("active", active);
      if (active) { link.setAttribute("aria-current", "true"); link.classList.remove("unread"); }
      else link.removeAttribute("aria-current");
    });
  }

  // The 24-hour window's time left, kept current between redraws in the server's own
  // translated phrases ("restam %(hours)s h %(minutes)s min"), numbers in the page's language;
  // a warning shown near its end; once closed, the composer is redrawn by the server (its
  // closed state, and on Cloud API numbers the template form), unless a draft is in it.
  var windowTimer = null;
  function tickWindow() {
    clearTimeout(windowTimer);
    var number = new Intl.NumberFormat(document.documentElement.lang || undefined);
    var next = 30000;
    document.querySelectorAll("#composer-window[data-ends-at] .window-left").forEach(function (el) {
      var line = el.parentNode;
      var fmtHours = el.getAttribute("data-fmt-hours");
      var fmtMinutes = el.getAttribute("data-fmt-minutes");
      if (!fmtHours || !fmtMinutes) return; // keep the server's words rather than blank them
      var left = Date.parse(line.getAttribute("data-ends-at")) - Date.now();
      var minutes = Math.max(0, Math.floor(left / 60000));
      var warning = line.querySelector(".window-warning");
      if (left <= 0) {
        el.textContent = el.getAttribute("data-closed");
        line.classList.remove("window-open", "window-ending");
        line.classList.add("window-closed");
        if (warning) warning.hidden = true;
        var box = document.getElementById("reply-body");
        if (!box || !box.value) refresh("composer-holder");
        return;
      }
      // The next tick when the minute shown changes, not 30 s late.
      next = Math.min(next, left % 60000 + 50);
      var hours = Math.floor(minutes / 60);
      el.textContent = (hours ? fmtHours : fmtMinutes).replace("%(hours)s", number.format(hours))
        .replace("%(minutes)s", number.format(minutes % 60));
      var ending = minutes < (parseInt(line.getAttribute("data-ending-minutes"), 10) || 60);
      line.classList.toggle("window-ending", ending);
      if (warning) warning.hidden = !ending;
    });
    windowTimer = setTimeout(tickWindow, next);
  }

  document.addEventListener("DOMContentLoaded", function () {
    toBottom(true);
    tickWindow();
  });

  // Keys typed into a text field are text, not shortcuts (a focused tab or button is fine).
  function typing(el) {
    if (!el) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !/^(radio|checkbox|button|submit|reset)$/.test(el.type);
  }
  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#conversation-items .conversation"));
    if (!links.length) return;
    var at = links.findIndex(function (l) { return l.classList.contains("active"); });
    var next = links[at === -1 ? 0 : Math.min(links.length - 1, Math.max(0, at + step))];
    if (next && (at === -1 || next !== links[at])) {
      next.click();
      next.scrollIntoView({ block: "nearest" });
    }
  }
  function openShortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-shortcuts]")) openShortcuts();
    if (e.target.closest(".contact-toggle")) {
      var inbox = document.getElementById("inbox");
      var shown = inbox.classList.toggle("show-contact");
      e.target.closest(".contact-toggle").setAttribute("aria-expanded", shown ? "true" : "false");
    }
    if (e.target.closest(".contact-close")) document.getElementById("inbox").classList.remove("show-contact");
    // A choice in the "Hand over" menu closes it.
    if (!e.target.closest("details.menu")) {
      document.querySelectorAll("details.menu[open]").forEach(function (d) { d.open = false; });
    }
  });

  // Keyboard: j/k move, r replies, e resolves, / canned replies, ? the list of shortcuts.
  document.addEventListener("keydown", function (e) {
    var box = e.target;
    if (box.id === "reply-body") {
      if (canned.keydown(e)) return;
      // Enter sends, Shift+Enter breaks the line (the composer is redrawn after each reply).
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        box.form.requestSubmit();
      } else if (e.key === "Escape") {
        box.blur();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(box) || document.querySelector("dialog[open]")) return;
    var reply = document.getElementById("reply-body");
    if (e.key === "j") move(1);
    else if (e.key === "k") move(-1);
    else if (e.key === "r") {
      var field = reply || document.querySelector(".template-composer input");
      if (field) { e.preventDefault(); field.focus(); }
    } else if (e.key === "e") {
      var resolve = document.querySelector('[data-action="resolve"]');
      if (resolve) { e.preventDefault(); resolve.click(); }
    } else if (e.key === "?") {
      e.preventDefault();
      openShortcuts();
    } else if (e.key === "/" && reply && reply.getAttribute("data-canned-url")) {
      e.preventDefault();
      reply.focus();
      if (!reply.value) reply.value = "/";
      canned.update(reply);
    }
  });

  // The composer's Reply / Note switch.
  document.addEventListener("change", function (e) {
    if (e.target.name === "mode" && e.target.closest(".composer")) {
      var form = e.target.closest(".composer");
      var note = e.target.value === "note";
      form.classList.toggle("note-mode", note);
      var body = form.querySelector("#reply-body");
      body.placeholder = body.getAttribute(note ? "data-note-placeholder" : "data-reply-placeholder");
      body.focus();
    }
  });

  // Canned replies: "/" at the start of the reply box (or of a word) opens the picker; the
  // server renders each with the contact's variables filled in.
  var canned = (function () {
    var timer = null;
    // Each lookup's number: an answer that lands after a later keystroke, a pick or Escape is
    // stale and dropped, else it reopened the picker and the next Enter picked instead of sent.
    var asked = 0;
    var state = { open: false, index: 0, start: -1 };
    function panel() { return document.getElementById("canned"); }
    function options() { var p = panel(); return p ? Array.prototype.slice.call(p.querySelectorAll("[role=option]")) : []; }
    function close() {
      clearTimeout(timer);
      asked++;
      var p = panel();
      if (p) { p.hidden = true; p.innerHTML = ""; }
      state.open = false;
    }
    function query(box) {
      var upto = box.value.slice(0, box.selectionStart);
      var m = /(^|\s)\/([\w-]*)$/.exec(upto);
      if (!m) return null;
      state.start = upto.length - m[2].length - 1;
      return m[2];
    }
    function update(box) {
      var url = box.getAttribute("data-canned-url");
      var q = url ? query(box) : null;
      if (q === null) { close(); return; }
      clearTimeout(timer);
      var lookup = ++asked;
      timer = setTimeout(function () {
        fetch(url + "?q=" + encodeURIComponent(q), { headers: { "HX-Request": "true" } }).then(function (response) {
          return response.ok ? response.text() : "";
        }).then(function (html) {
          var p = panel();
          if (lookup !== asked || !p) return;
          p.innerHTML = html;
          state.index = 0;
          state.open = options().length > 0 || !!p.querySelector(".canned-empty");
          p.hidden = !state.open;
          highlight();
        }).catch(function () { if (lookup === asked) close(); });
      }, 80);
    }
    function highlight() {
      options().forEach(function (o, i) { o.setAttribute("aria-selected", i === state.index ? "true" : "false"); });
    }
    function choose(option) {
      var box = document.getElementById("reply-body");
      var text = option.getAttribute("data-body");
      var before = box.value.slice(0, state.start);
      var after = box.value.slice(box.selectionStart);
      box.value = before + text + after;
      var at = (before + text).length;
      box.setSelectionRange(at, at);
      box.focus();
      close();
    }
    function keydown(e) {
      if (!state.open) return false;
      var list = options();
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (!list.length) return false;
        e.preventDefault();
        state.index = (state.index + (e.key === "ArrowDown" ? 1 : list.length - 1)) % list.length;
        highlight();
        return true;
      }
      if ((e.key === "Enter" || e.key === "Tab") && list.length) {
        e.preventDefault();
        choose(list[state.index]);
        return true;
      }
      if (e.key === "Escape") { e.preventDefault(); close(); return true; }
      return false;
    }
    document.addEventListener("input", function (e) { if (e.target.id === "reply-body") update(e.target); });
    document.addEventListener("mousedown", function (e) {
      var option = e.target.closest("#canned [role=option]");
      if (option) { e.preventDefault(); choose(option); }
    });
    return { update: update, keydown: keydown, close: close };
  })();
})();

// A message's photo opens larger in its <dialog> (inbox/_attachment.html).
document.addEventListener("click", function (e) {
  var opener = e.target.closest && e.target.closest("[data-opens]");
  if (!opener) return;
  var dialog = document.getElementById(opener.getAttribute("data-opens"));
  if (dialog && dialog.showModal) dialog.showModal();
});

// A hold that ends at a known time (quiet hours, a quota's hour or day, the next allowed
// period) redraws the conversation's hold banner then, without polling.
(function () {
  "use strict";
  var timer = null;
  document.addEventListener("htmx:afterSettle", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== "hold-banner") return;
    clearTimeout(timer);
    var timed = target.querySelector("[data-until]");
    if (!timed) return;
    var wait = Date.parse(timed.getAttribute("data-until")) - Date.now() + 1000;
    if (wait > 0 && wait < 864e5) {
      timer = setTimeout(function () {
        var el = document.getElementById("hold-banner");
        if (el) htmx.trigger(el, "refresh");
      }, wait);
    }
  });
})();

// Behaviour wired by data attributes, no inline handlers (the Content-Security-Policy refuses
// them): a select that submits its form when changed, a form that empties after htmx sent it
// well, and an element that polls (htmx's "every 1s [filter]" needs eval, which is off).
document.addEventListener("change", function (e) {
  var select = e.target.closest && e.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.submit();
});
document.addEventListener("htmx:afterRequest", function (e) {
  var form = e.detail.elt;
  if (e.detail.successful && form && form.matches && form.matches("form[data-reset-on-success]")) form.reset();
});
(function () {
  // Every data-poll-every ms, a "poll" event on the element, unless the person is busy in it
  // (a menu open or a field focused inside): htmx refreshes it on that event.
  function busy(el) {
    return !!el.querySelector("details[open], :focus");
  }
  function tick(el) {
    if (!document.contains(el)) return;
    if (!busy(el)) htmx.trigger(el, "poll");
  }
  // A poll asked before the person opened a menu may answer after: its redraw would close the
  // menu under their pointer. That answer is dropped; the next poll after they finish redraws.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var el = e.detail.elt;
    if (el && el.hasAttribute && el.hasAttribute("data-poll-every") && e.detail.requestConfig &&
        e.detail.requestConfig.triggeringEvent && e.detail.requestConfig.triggeringEvent.type === "poll" &&
        busy(el)) {
      e.detail.shouldSwap = false;
    }
  });
  function start() {
    document.querySelectorAll("[data-poll-every]").forEach(function (el) {
      if (el.getAttribute("data-polling")) return;
      el.setAttribute("data-polling", "1");
      var every = Math.max(250, parseInt(el.getAttribute("data-poll-every"), 10) || 1000);
      var timer = setInterval(function () {
        if (!document.contains(el)) clearInterval(timer);
        else tick(el);
      }, every);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  // An element swapped in by htmx (a polled fragment redrawn with outerHTML) polls on if it
  // still says so; one that no longer does (a campaign that finished) stops.
  document.addEventListener("htmx:load", start);
})();
