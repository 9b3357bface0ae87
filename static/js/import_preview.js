// Polls an import preview's JSON status and updates its progress bar; reloads the page (which
// then shows the stored result) once the preview job has finished.
(function () {
  "use strict";
  var box = document.getElementById("import-preview");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function part(role) { return box.querySelector('[data-role="' + role + '"]'); }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { window.setTimeout(poll, 5000); return; }
        part("progress").value = data.progress;
        part("progress").textContent = data.progress + "%";
        part("status").textContent = data.status_label;
        if (data.finished) { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 700);
})();
