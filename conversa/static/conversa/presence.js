// Presence and notifications (conversa/inbox/presence.py, notifications.py): this tab tells
// its socket when it goes idle or has input again; the availability menu and the team view
// refresh on OPERATOR_STATUS; a NOTIFY event (sent to this member's sockets only) becomes a
// browser notification, a sound, and the unread count in the tab's title.
(function () {
  "use strict";
  var shell = document.getElementById("shell");
  if (!shell) return;
  var me = shell.getAttribute("data-member");
  var idleAfter = (parseInt(shell.getAttribute("data-idle-seconds"), 10) || 600) * 1000;

  // --- Idle: no input in this tab for the idle period. ---
  var socket = null;
  var lastInput = Date.now();
  var reportedIdle = false;
  function say(idle) {
    reportedIdle = idle;
    if (socket) socket.send(JSON.stringify({ type: "presence", idle: idle }));
  }
  function input() {
    lastInput = Date.now();
    if (reportedIdle) say(false);
  }
  ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "focus"].forEach(function (name) {
    window.addEventListener(name, input, { passive: true, capture: true });
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { input(); updateUnread(); }
  });
  setInterval(function () {
    if (!reportedIdle && Date.now() - lastInput >= idleAfter) say(true);
  }, Math.min(15000, idleAfter / 2));
  document.addEventListener("htmx:wsOpen", function (e) {
    socket = e.detail.socketWrapper;
    // A new socket starts active on the server: say so if this tab is idle already.
    reportedIdle = false;
    if (Date.now() - lastInput >= idleAfter) say(true);
    updateUnread();
    refresh("availability");
  });
  document.addEventListener("htmx:wsClose", function () { socket = null; });

  // --- Live refreshes: app.js's, at most one per element every 150 ms. ---
  function refresh(id) { window.conversaRefresh(id); }

  // --- The unread count in the title: "(3) Inbox · Conversa". ---
  var unreadTimer = null;
  function updateUnread() {
    clearTimeout(unreadTimer);
    unreadTimer = setTimeout(function () {
      fetch(shell.getAttribute("data-unread-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) return;
          setTitleCount(body.unread);
          shell.setAttribute("data-sound-on", body.sound ? "1" : "0");
        })
        .catch(function () {});
    }, 250);
  }
  function setTitleCount(n) {
    var bare = document.title.replace(/^\(\d+\+?\) /, "");
    n = parseInt(n, 10) || 0;
    document.title = n > 0 ? "(" + (n > 99 ? "99+" : n) + ") " + bare : bare;
    shell.setAttribute("data-unread", String(n));
  }
  // The title block changes when htmx swaps a page's title (hx-boost, a conversation picked).
  document.addEventListener("htmx:afterSettle", function () {
    if (shell.hasAttribute("data-unread")) setTitleCount(shell.getAttribute("data-unread"));
  });

  // --- Browser notifications: permission asked only from a click. ---
  function supported() { return "Notification" in window; }
  function showPermission() {
    var state = supported() ? Notification.permission : "unsupported";
    document.querySelectorAll("[data-notify-permission]").forEach(function (b) {
      b.hidden = state !== "default";
    });
    document.querySelectorAll("[data-permission-state]").forEach(function (p) {
      p.hidden = p.getAttribute("data-permission-state") !== state;
    });
  }
  document.addEventListener("click", function (e) {
    var ask = e.target.closest && e.target.closest("[data-notify-permission]");
    if (ask && supported()) {
      var answer = Notification.requestPermission(showPermission);
      if (answer && answer.then) answer.then(showPermission);
    }
    if (e.target.closest && e.target.closest("[data-notify-test]")) playSound();
  });
  // A live refresh of the menu (a GET) keeps it open if it was; a choice (a POST) closes it.
  var menuOpen = false;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (target && target.id === "availability") {
      menuOpen = target.open && e.detail.requestConfig.verb === "get";
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    var menu = document.getElementById("availability");
    if (menu && menuOpen) menu.open = true;
    menuOpen = false;
    showPermission();
  });
  document.addEventListener("htmx:load", showPermission);
  showPermission();

  var sound = null;
  function playSound() {
    try {
      sound = sound || new Audio(shell.getAttribute("data-sound"));
      sound.currentTime = 0;
      var played = sound.play();
      if (played && played.catch) played.catch(function () {}); // no interaction yet: silent
    } catch (err) { /* no audio here */ }
  }
  function currentConversation() {
    var inbox = document.querySelector(".inbox");
    return inbox ? inbox.getAttribute("data-conversation") || "" : "";
  }
  var KINDS = { NOTIFY_ASSIGNED: "assigned", NOTIFY_MESSAGE: "message", NOTIFY_MENTION: "mention" };
  function notify(kind, ids) {
    var id = String(ids[0]);
    var looking = !document.hidden && currentConversation() === id;
    if (looking) return; // reading it already
    if (shell.getAttribute("data-sound-on") !== "0") playSound();
    if (!supported() || Notification.permission !== "granted") return;
    var title = shell.getAttribute("data-notice-" + kind) || "Conversa";
    var url = shell.getAttribute("data-conversation-url").replace("/0/", "/" + id + "/");
    try {
      var n = new Notification(title, {
        body: shell.getAttribute("data-notice-body"),
        tag: "conversa-" + kind + "-" + id,
      });
      n.onclick = function () { window.focus(); window.location.href = url; n.close(); };
    } catch (err) { /* a browser that allows notifications only from a service worker */ }
  }

  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var event;
    try { event = JSON.parse(e.detail.message); } catch (err) { return; }
    if (KINDS[event.type]) { notify(KINDS[event.type], event.conversation_ids); updateUnread(); return; }
    if (event.type === "OPERATOR_STATUS") {
      if (event.member_ids.map(String).indexOf(me) !== -1) refresh("availability");
      refresh("team");
    }
    if (event.conversation_ids) { refresh("team"); updateUnread(); }
  });
})();
