/* Upload progress for evidence forms.
 *
 * Finds multipart forms with a file input (the check-in form of tasks/assignment_detail.html,
 * or any form marked data-upload-progress), and submits them with XMLHttpRequest so that a
 * <progress> bar shows how much has been sent. The server's answer (the page after the
 * redirect, or the form with its errors) then replaces the page, as a normal submit would.
 * Without JavaScript, or without XHR upload events, the form submits normally.
 */
(function () {
  "use strict";

  function label(form, name, fallback) {
    return form.getAttribute("data-" + name) || fallback;
  }

  function enhance(form) {
    if (form.getAttribute("data-upload-progress-ready")) { return; }
    form.setAttribute("data-upload-progress-ready", "1");

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
    box.appendChild(bar);
    box.appendChild(text);
    var button = form.querySelector("[type=submit]");
    form.insertBefore(box, button ? button : null);

    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) { return; }
      var xhr = new XMLHttpRequest();
      if (!xhr.upload) { return; }
      event.preventDefault();
      var data = new FormData(form);
      if (button) { button.disabled = true; }
      box.hidden = false;

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
      xhr.addEventListener("error", function () {
        // The network failed: let the browser try the ordinary way.
        if (button) { button.disabled = false; }
        box.hidden = true;
        HTMLFormElement.prototype.submit.call(form);
      });
      xhr.open((form.method || "post").toUpperCase(), form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.send(data);
    });
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
