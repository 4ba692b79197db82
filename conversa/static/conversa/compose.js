// The composer's files: the attach button, drag and drop onto the composer, and pasted
// images all land in its one file input, listed above the reply box with a way to remove
// each; an audio file offers "send as a voice note". The server checks every file again.
(function () {
  "use strict";

  function input() { return document.getElementById("composer-attach"); }

  function addFiles(files) {
    var field = input();
    if (!field || !files || !files.length) return;
    var all = new DataTransfer();
    Array.prototype.forEach.call(field.files, function (f) { all.items.add(f); });
    Array.prototype.forEach.call(files, function (f) { all.items.add(f); });
    field.files = all.files;
    render();
  }

  function removeFile(index) {
    var field = input();
    var kept = new DataTransfer();
    Array.prototype.forEach.call(field.files, function (f, i) { if (i !== index) kept.items.add(f); });
    field.files = kept.files;
    render();
  }

  function size(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function render() {
    var field = input();
    var list = document.getElementById("composer-files");
    if (!field || !list) return;
    list.textContent = "";
    var audio = false;
    Array.prototype.forEach.call(field.files, function (f, i) {
      if (f.type.indexOf("audio/") === 0) audio = true;
      var item = document.createElement("li");
      item.className = "composer-file";
      var name = document.createElement("span");
      name.className = "file-name";
      name.textContent = f.name + " · " + size(f.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "button small ghost";
      remove.textContent = "×";
      remove.setAttribute("aria-label", (field.getAttribute("data-remove-label") || "Remove") + " " + f.name);
      remove.addEventListener("click", function () { removeFile(i); });
      item.appendChild(name);
      item.appendChild(remove);
      list.appendChild(item);
    });
    list.hidden = field.files.length === 0;
    var voice = field.form.querySelector(".voice-option");
    if (voice) {
      voice.hidden = !audio;
      if (!audio) voice.querySelector("input").checked = false;
    }
  }

  document.addEventListener("change", function (e) {
    if (e.target.id === "composer-attach") render();
  });

  document.addEventListener("paste", function (e) {
    if (e.target.id !== "reply-body" || !e.clipboardData || !e.clipboardData.files.length) return;
    e.preventDefault();
    addFiles(e.clipboardData.files);
  });

  function dropZone(e) {
    var form = e.target.closest && e.target.closest("#composer form.composer");
    return form && input() && form.contains(input()) ? form : null;
  }

  document.addEventListener("dragover", function (e) {
    var form = dropZone(e);
    if (!form || !e.dataTransfer || Array.prototype.indexOf.call(e.dataTransfer.types, "Files") < 0) return;
    e.preventDefault();
    form.classList.add("dropping");
  });
  document.addEventListener("dragleave", function (e) {
    var form = dropZone(e);
    if (form && !form.contains(e.relatedTarget)) form.classList.remove("dropping");
  });
  document.addEventListener("drop", function (e) {
    var form = dropZone(e);
    if (!form) return;
    e.preventDefault();
    form.classList.remove("dropping");
    addFiles(e.dataTransfer.files);
  });
})();

// A reply that never reached the server (offline, a dropped connection) or that the server
// failed on: the words under the composer, the typed text left where it is to send again.
(function () {
  "use strict";

  function composerForm(e) {
    var elt = e.detail.elt;
    return elt && elt.closest ? elt.closest("#composer form.composer") : null;
  }

  function show(form, key) {
    var composer = document.getElementById("composer");
    var box = form.querySelector(".send-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "field-error send-error";
      box.setAttribute("role", "alert");
      form.appendChild(box);
    }
    box.textContent = composer.getAttribute(key);
  }

  document.addEventListener("htmx:sendError", function (e) {
    var form = composerForm(e);
    if (form) show(form, "data-offline-error");
  });
  document.addEventListener("htmx:timeout", function (e) {
    var form = composerForm(e);
    if (form) show(form, "data-offline-error");
  });
  document.addEventListener("htmx:responseError", function (e) {
    var form = composerForm(e);
    if (form && e.detail.xhr && e.detail.xhr.status >= 500) show(form, "data-server-error");
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = composerForm(e);
    var box = form && form.querySelector(".send-error");
    if (box) box.remove();
  });
})();
