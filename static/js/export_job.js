// Polls an export job's JSON status and updates its progress bar until the file is ready.
(function () {
  "use strict";
  var box = document.getElementById("export-job");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function part(role) { return box.querySelector('[data-role="' + role + '"]'); }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        part("progress").value = data.progress;
        part("progress").textContent = data.progress + "%";
        part("status").textContent = data.status_label;
        if (data.error) { part("error").textContent = data.error; part("error").hidden = false; }
        if (data.download_url) { part("download").hidden = false; }
        if (!data.finished) { window.setTimeout(poll, 1500); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
