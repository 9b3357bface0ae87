/* Evidence uploads: the chosen files listed before upload, progress, and a cancel button.
 *
 * Finds multipart forms with a file input (the check-in form of tasks/assignment_detail.html,
 * or any form marked data-upload-progress) and:
 * - lists the files chosen in its file inputs (name and size) above the submit button, each
 *   with a remove button (×) where the browser lets a script set an input's files
 *   (DataTransfer); there, files chosen one after another (several photos taken with the
 *   camera input, say) add up in the form's first file input instead of replacing each other;
 * - submits it with XMLHttpRequest so that a <progress> bar shows how much has been sent, and
 *   a cancel button aborts the upload and gives the form back as it was. The server's answer
 *   (the page after the redirect, or the form with its errors) then replaces the page, as a
 *   normal submit would.
 * Without JavaScript, or without XHR upload events, the form submits normally.
 * Texts come from the form's data-* attributes (translated by the template).
 */
(function () {
  "use strict";

  function label(form, name, fallback) {
    return form.getAttribute("data-" + name) || fallback;
  }

  function formatSize(bytes) {
    if (bytes < 1024) { return bytes + " B"; }
    if (bytes < 1024 * 1024) { return (bytes / 1024).toFixed(1) + " KB"; }
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function canSetFiles() {
    try {
      return typeof DataTransfer === "function" && !!new DataTransfer().items;
    } catch (error) {
      return false;
    }
  }

  function sameFile(a, b) {
    return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
  }

  function enhance(form) {
    if (form.getAttribute("data-upload-progress-ready")) { return; }
    form.setAttribute("data-upload-progress-ready", "1");

    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=file]"));
    var main = inputs[0];
    var settable = canSetFiles();
    var button = form.querySelector("[type=submit]");

    // The chosen files, listed before the upload.
    var chosen = document.createElement("div");
    chosen.className = "upload-list";
    chosen.hidden = true;
    var title = document.createElement("p");
    title.className = "upload-list__title";
    title.setAttribute("aria-live", "polite");
    var list = document.createElement("ul");
    list.className = "upload-list__items";
    chosen.appendChild(title);
    chosen.appendChild(list);

    var box = document.createElement("div");
    box.className = "upload-progress";
    box.hidden = true;
    var bar = document.createElement("progress");
    bar.className = "upload-progress__bar";
    bar.max = 100;
    bar.value = 0;
    var text = document.createElement("span");
    text.className = "upload-progress__text";
    text.setAttribute("aria-live", "polite");
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button upload-progress__cancel";
    cancel.textContent = label(form, "cancel-label", "Cancel upload");
    box.appendChild(bar);
    box.appendChild(text);
    box.appendChild(cancel);

    var notice = document.createElement("p");
    notice.className = "upload-cancelled";
    notice.setAttribute("role", "status");
    notice.hidden = true;

    form.insertBefore(chosen, button ? button : null);
    form.insertBefore(box, button ? button : null);
    form.insertBefore(notice, button ? button : null);

    function files() {
      var all = [];
      inputs.forEach(function (input) {
        Array.prototype.forEach.call(input.files || [], function (file) { all.push(file); });
      });
      return all;
    }

    function setFiles(input, wanted) {
      var transfer = new DataTransfer();
      wanted.forEach(function (file) { transfer.items.add(file); });
      input.files = transfer.files;
    }

    function render() {
      var current = files();
      while (list.firstChild) { list.removeChild(list.firstChild); }
      chosen.hidden = current.length === 0;
      title.textContent = label(form, "chosen-title", "Files to upload") + " (" + current.length + ")";
      current.forEach(function (file, index) {
        var item = document.createElement("li");
        item.className = "upload-list__item";
        var name = document.createElement("span");
        name.className = "upload-list__name";
        name.textContent = file.name;
        var size = document.createElement("span");
        size.className = "upload-list__size";
        size.textContent = formatSize(file.size);
        item.appendChild(name);
        item.appendChild(size);
        if (settable) {
          var remove = document.createElement("button");
          remove.type = "button";
          remove.className = "upload-list__remove";
          remove.textContent = "×";
          remove.setAttribute("aria-label", label(form, "remove-label", "Remove") + " " + file.name);
          remove.addEventListener("click", function () {
            setFiles(main, files().filter(function (_file, other) { return other !== index; }));
            render();
            main.focus();
          });
          item.appendChild(remove);
        }
        list.appendChild(item);
      });
    }

    inputs.forEach(function (input) {
      input.addEventListener("change", function () {
        notice.hidden = true;
        if (settable && input !== main) {
          // A photo (or a second choice) is added to the files already chosen.
          var merged = Array.prototype.slice.call(main.files || []);
          Array.prototype.forEach.call(input.files || [], function (file) {
            if (!merged.some(function (other) { return sameFile(other, file); })) { merged.push(file); }
          });
          setFiles(main, merged);
          setFiles(input, []);
        }
        render();
      });
    });

    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) { return; }
      var xhr = new XMLHttpRequest();
      if (!xhr.upload) { return; }
      event.preventDefault();
      var data = new FormData(form);
      if (button) { button.disabled = true; }
      notice.hidden = true;
      bar.value = 0;
      text.textContent = "0%";
      box.hidden = false;
      cancel.focus();

      function restore() {
        if (button) { button.disabled = false; }
        box.hidden = true;
      }

      cancel.onclick = function () { xhr.abort(); };
      xhr.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) {
          var percent = Math.round((progress.loaded / progress.total) * 100);
          bar.value = percent;
          text.textContent = percent + "%";
        }
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 100;
        text.textContent = "100%";
      });
      xhr.addEventListener("load", function () {
        // Show the server's answer as a normal submit would: the page after the redirect (with
        // its one-time success message, which a second request would lose) or the form with
        // its errors. The address bar follows the redirect.
        var redirected = xhr.responseURL && xhr.responseURL !== new URL(form.action, window.location.href).href;
        if (redirected && window.history && window.history.pushState) {
          window.history.pushState(null, "", xhr.responseURL);
        }
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("abort", function () {
        // Cancelled: the form is given back with everything chosen. Sent again, its hidden
        // token makes the server answer like the first time should that upload have arrived.
        restore();
        notice.textContent = label(form, "cancelled-text", "Upload cancelled.");
        notice.hidden = false;
        if (button) { button.focus(); }
      });
      xhr.addEventListener("error", function () {
        // The network failed: let the browser try the ordinary way.
        restore();
        HTMLFormElement.prototype.submit.call(form);
      });
      xhr.open((form.method || "post").toUpperCase(), form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.send(data);
    });

    render();
  }

  function start() {
    var forms = document.querySelectorAll(
      "form[data-upload-progress], form[enctype='multipart/form-data']"
    );
    Array.prototype.forEach.call(forms, function (form) {
      if (form.querySelector("input[type=file]")) { enhance(form); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
