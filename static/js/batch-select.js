// The review queue's batch selection: a live "N selected" counter, "select all on this page"
// as a checkbox, and the "selected" button disabled while nothing is ticked. Without this
// script the form still works: ticked rows, "all on this page" and "all that match" are
// buttons, and the server counts and refuses an empty choice.
(function () {
  "use strict";
  var form = document.getElementById("batch-form");
  if (!form) { return; }
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type="checkbox"][name="ids"][form="batch-form"]'));
  var all = document.querySelector("[data-batch-all]");
  var counter = document.querySelector("[data-batch-count]");
  var selectedButton = document.querySelector("[data-batch-selected]");
  function update() {
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    if (counter) {
      counter.textContent = counter.getAttribute("data-template").replace("__N__", String(ticked));
      counter.hidden = false;
    }
    if (selectedButton) { selectedButton.disabled = ticked === 0; }
    if (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  update();
})();
