// A persona's test chat: the answer shows as the model writes it. The form is posted with
// fetch asking for JSON lines ({"piece"} each, then {"done", "html"}); the pieces are shown
// as text (never as HTML), and the last line's answer, rendered by the server with its
// passages and rating buttons, replaces them. Without this script the form posts as usual.
(function () {
  "use strict";
  function start(form) {
    var list = form.parentNode.querySelector(".test-answers");
    var error = form.parentNode.querySelector("#chat-error");
    var empty = form.parentNode.querySelector(".test-chat-empty");
    var input = form.querySelector("input[name=question]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var question = input.value.trim();
      error.hidden = true;
      input.removeAttribute("aria-invalid");
      var item = document.createElement("li");
      item.className = "test-answer";
      item.setAttribute("data-outcome", "writing");
      var asked = document.createElement("p");
      asked.className = "test-question";
      asked.textContent = question;
      var reply = document.createElement("div");
      reply.className = "test-reply";
      var text = document.createElement("p");
      text.className = "test-text writing";
      text.setAttribute("data-field", "answer");
      reply.appendChild(text);
      item.appendChild(asked);
      item.appendChild(reply);
      button.disabled = true;
      var shown = false;
      function fail(words) {
        if (shown) item.remove();
        error.textContent = words || form.getAttribute("data-failed");
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
      }
      function line(raw) {
        if (!raw.trim()) return;
        var data = JSON.parse(raw);
        if (data.piece !== undefined) {
          text.textContent += data.piece;
        } else if (data.done) {
          var holder = document.createElement("template");
          holder.innerHTML = data.html.trim();
          var done = holder.content.firstElementChild;
          item.replaceWith(done);
          if (window.htmx) window.htmx.process(done);
        }
      }
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: form.getAttribute("data-stream") }
      }).then(function (response) {
        if (!response.ok) {
          return response.json().then(function (body) { fail(body.error); }, function () { fail(); });
        }
        list.insertBefore(item, list.firstChild);
        shown = true;
        if (empty) empty.hidden = true;
        input.value = "";
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function read() {
          return reader.read().then(function (chunk) {
            buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
            var lines = buffer.split("\n");
            buffer = lines.pop();
            lines.forEach(line);
            if (chunk.done) { line(buffer); return; }
            return read();
          });
        }
        return read();
      }).catch(function () { fail(); }).finally(function () {
        button.disabled = false;
        input.focus();
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.test-chat-ask[data-stream]").forEach(start);
  });
})();
