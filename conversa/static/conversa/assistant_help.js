// The composer's assistant (templates/assistant/_assist.html): a suggested reply that Tab in
// the reply box inserts, rewrite or translate the draft,
// keeping the agent's own text for Undo, and summarize the conversation into a note. The server
// answers JSON: the new text and the rating buttons, or the refusal's words.
(function () {
  "use strict";
  var undo = null; // { conversation, text }: what the last replacement replaced

  function csrf() {
    var input = document.querySelector("#composer input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(bar, words, error) {
    var status = bar.querySelector(".assist-status");
    status.textContent = words;
    status.classList.toggle("field-error", !!error);
  }

  function busy(bar, on) {
    bar.setAttribute("aria-busy", on ? "true" : "false");
    bar.querySelectorAll("button, summary").forEach(function (el) {
      if (el.tagName === "BUTTON") el.disabled = on;
    });
  }

  function ask(bar, action, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (name) { body.append(name, fields[name]); });
    busy(bar, true);
    say(bar, bar.getAttribute("data-working"), false);
    bar.querySelector(".assist-rating").innerHTML = "";
    return fetch(bar.getAttribute("data-url").replace("ACTION", action), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok || data.error) throw new Error(data.error || bar.getAttribute("data-failed"));
          return data;
        });
      })
      .finally(function () { busy(bar, false); });
  }

  // A suggested reply waits beside the reply box until Tab puts it in (or another is asked).
  var suggestion = null; // { conversation, text, rating }

  function showSuggestion(bar, text) {
    var box = bar.querySelector(".assist-suggestion");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function insertSuggestion(bar, textarea) {
    var draft = textarea.value;
    undo = { conversation: suggestion.conversation, text: draft };
    textarea.value = suggestion.text;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    bar.querySelector("[data-assist-undo]").hidden = false;
    say(bar, bar.getAttribute("data-inserted"), false);
    showRating(bar, suggestion.rating);
    showSuggestion(bar, "");
    suggestion = null;
    textarea.focus();
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Tab" || e.shiftKey || !suggestion) return;
    var textarea = e.target;
    if (!textarea || textarea.id !== "reply-body") return;
    var bar = document.getElementById("assist");
    var conversation = document.getElementById("workspace").getAttribute("data-conversation");
    if (!bar || suggestion.conversation !== conversation) return;
    e.preventDefault();
    insertSuggestion(bar, textarea);
  });

  function showRating(bar, html) {
    var slot = bar.querySelector(".assist-rating");
    slot.innerHTML = html || "";
    if (window.htmx) htmx.process(slot);
  }

  document.addEventListener("click", function (e) {
    var bar = e.target.closest && e.target.closest("#assist");
    if (!bar) return;
    var textarea = document.getElementById("reply-body");
    var conversation = document.getElementById("workspace").getAttribute("data-conversation");
    var undoButton = bar.querySelector("[data-assist-undo]");
    if (e.target.closest("[data-assist-undo]")) {
      if (undo && textarea && undo.conversation === conversation) {
        textarea.value = undo.text;
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
        textarea.focus();
      }
      undo = null;
      undoButton.hidden = true;
      say(bar, "", false);
      return;
    }
    var button = e.target.closest("[data-assist]");
    if (!button) return;
    var action = button.getAttribute("data-assist");
    var menu = button.closest("details");
    if (menu) menu.open = false;
    if (action === "summarize") {
      ask(bar, "summarize", {})
        .then(function (data) {
          say(bar, bar.getAttribute("data-summarized"), false);
          var thread = document.getElementById("messages-wrap");
          if (thread && window.htmx) htmx.trigger(thread, "refresh");
        })
        .catch(function (err) { say(bar, err.message, true); });
      return;
    }
    if (action === "suggest") {
      suggestion = null;
      showSuggestion(bar, "");
      ask(bar, "suggest", {})
        .then(function (data) {
          suggestion = { conversation: conversation, text: data.text, rating: data.rating };
          showSuggestion(bar, data.text);
          say(bar, bar.getAttribute("data-suggested"), false);
          if (textarea) textarea.focus();
        })
        .catch(function (err) { say(bar, err.message, true); });
      return;
    }
    var draft = textarea ? textarea.value : "";
    if (!draft.trim()) {
      say(bar, bar.getAttribute("data-empty"), true);
      if (textarea) textarea.focus();
      return;
    }
    var fields = { body: draft };
    if (action === "rewrite") fields.style = button.getAttribute("data-style");
    if (action === "translate") fields.language = button.getAttribute("data-language");
    ask(bar, action, fields)
      .then(function (data) {
        // Only if the agent has not typed meanwhile: their newer words are not overwritten.
        if (textarea.value !== draft) return;
        undo = { conversation: conversation, text: draft };
        textarea.value = data.text;
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
        undoButton.hidden = false;
        say(bar, bar.getAttribute("data-done"), false);
        showRating(bar, data.rating);
        textarea.focus();
      })
      .catch(function (err) { say(bar, err.message, true); });
  });
})();
