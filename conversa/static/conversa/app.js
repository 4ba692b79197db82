// Conversa's small amount of our own JS: realtime events → htmx refreshes, socket status.
(function () {
  "use strict";
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];
  // A refresh per element at most every 150 ms, however many events arrive together.
  var pending = {};
  function refresh(id) {
    if (pending[id]) return;
    pending[id] = setTimeout(function () {
      delete pending[id];
      var el = document.getElementById(id);
      if (el) htmx.trigger(el, "refresh");
    }, 150);
  }
  function currentConversation() {
    var inbox = document.querySelector(".inbox");
    return inbox ? inbox.getAttribute("data-conversation") : "";
  }
  // An event names one object (conversation_id) or a batch of them (conversation_ids).
  function ids(event, name) {
    var many = event[name + "s"] || [];
    return event[name] !== undefined ? many.concat([event[name]]) : many;
  }
  function handle(event) {
    var conversations = ids(event, "conversation_id").map(String);
    if (conversations.length) {
      refresh("conversation-list");
      if (conversations.indexOf(currentConversation()) !== -1) refresh("messages-wrap");
    }
    if (ids(event, "intent_id").length) refresh("intents");
    if (ids(event, "instance_id").length) { refresh("instances"); refresh("pairing"); }
  }
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    e.preventDefault(); // our events are JSON, not HTML to swap
    try { handle(JSON.parse(e.detail.message)); } catch (err) { console.error(err); }
  });
  function socketStatus(connected) {
    var el = document.getElementById("socket-status");
    if (el) el.hidden = connected;
    document.body.setAttribute("data-socket", connected ? "open" : "closed");
  }
  document.addEventListener("htmx:wsOpen", function () {
    socketStatus(true);
    // Anything that changed while we were away: fetch it now.
    refresh("conversation-list");
    if (currentConversation()) refresh("messages-wrap");
    refresh("intents");
    refresh("instances");
    refresh("pairing");
  });
  document.addEventListener("htmx:wsClose", function () { socketStatus(false); });
  // Keep the newest message in view after the thread is (re)drawn.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll(".messages-wrap, #chat").forEach(function (el) { el.scrollTop = el.scrollHeight; });
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".messages-wrap, #chat").forEach(function (el) { el.scrollTop = el.scrollHeight; });
  });
  // Enter sends, Shift+Enter breaks the line (the composer is redrawn after each reply).
  document.addEventListener("keydown", function (e) {
    var box = e.target;
    if (box.id === "reply-body" && e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      box.form.requestSubmit();
    }
  });
})();
