/* Review shortcuts on the review queue and the check-in page (issue 15, issue 20).
 *
 *   j / k  next / previous item: on the queue, move a row highlight (Enter opens the row);
 *          on a check-in opened from the queue, go to the next / previous item
 *   a      focus the Approve button (a, then Enter: approved and on to the next item)
 *   r      focus the reason for return (#return_reason)
 *   s      focus the points (#score_points)
 *   v      open the next evidence file (the evidence viewer's hook when there is one)
 *   ?      the help (a modal <dialog>: focus stays in it, Esc closes, focus goes back)
 *
 * Never while typing in a field, never with Ctrl, Alt or Meta. No inline script (CSP).
 */
(function () {
  "use strict";

  var help = document.getElementById("review-keys-help");
  var hint = document.querySelector("[data-keys-hint]");
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-queue-table] tbody tr"));
  var current = -1;
  var evidenceIndex = -1;
  var returnFocus = null;

  if (hint) hint.hidden = false;

  function typing(target) {
    if (!target || !(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag === "INPUT") {
      var type = (target.getAttribute("type") || "text").toLowerCase();
      return ["button", "submit", "reset", "checkbox", "radio", "image", "file", "range", "color"].indexOf(type) === -1;
    }
    return false;
  }

  function focusInto(element) {
    if (!element) return false;
    element.scrollIntoView({ block: "center" });
    element.focus();
    return true;
  }

  function highlight(index) {
    if (!rows.length) return false;
    index = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) {
      row.classList.toggle("queue-row--current", i === index);
      if (i === index) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    current = index;
    // The row's link takes the focus, so Enter opens it like any focused link.
    return focusInto(rows[index].querySelector("a.queue-open") || rows[index].querySelector("a"));
  }

  function go(selector) {
    var link = document.querySelector(selector);
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  function openNextEvidence() {
    if (window.EvidenceViewer && typeof window.EvidenceViewer.openNext === "function") {
      window.EvidenceViewer.openNext();
      return true;
    }
    var links = Array.prototype.slice.call(document.querySelectorAll(".evidence .evidence__open"));
    if (!links.length) links = Array.prototype.slice.call(document.querySelectorAll(".evidence__open"));
    if (!links.length) return false;
    evidenceIndex = (evidenceIndex + 1) % links.length;
    return focusInto(links[evidenceIndex]);
  }

  function openHelp() {
    if (!help || help.open) return false;
    returnFocus = document.activeElement;
    help.showModal();
    var close = help.querySelector("[data-keys-close]");
    if (close) close.focus();
    return true;
  }

  if (help) {
    help.addEventListener("close", function () {
      if (returnFocus && typeof returnFocus.focus === "function" && document.contains(returnFocus)) {
        returnFocus.focus();
      }
      returnFocus = null;
    });
    var close = help.querySelector("[data-keys-close]");
    if (close) close.addEventListener("click", function () { help.close(); });
    // A modal dialog keeps the page inert; Tab cycles within it: keep it among its own controls.
    help.addEventListener("keydown", function (event) {
      if (event.key !== "Tab") return;
      var focusable = help.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])");
      if (!focusable.length) return;
      var first = focusable[0];
      var last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) { last.focus(); event.preventDefault(); }
      else if (!event.shiftKey && document.activeElement === last) { first.focus(); event.preventDefault(); }
    });
  }
  document.querySelectorAll("[data-keys-open]").forEach(function (button) {
    button.addEventListener("click", openHelp);
  });

  // 满分 / 半分 on the scoring form: fill the points (the server checks them again).
  document.querySelectorAll("[data-score-quick]").forEach(function (box) {
    box.hidden = false;
    box.querySelectorAll("button[data-points]").forEach(function (button) {
      button.addEventListener("click", function () {
        var input = document.getElementById("score_points");
        if (!input) return;
        input.value = button.getAttribute("data-points");
        input.focus();
      });
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (typing(event.target)) return;
    // An open dialog (this help, the evidence viewer) handles its own keys (Esc closes it).
    if (document.querySelector("dialog[open]")) return;
    var handled = false;
    switch (event.key) {
      case "j":
        handled = rows.length ? highlight(current + 1) : go("a[data-queue-next]");
        break;
      case "k":
        handled = rows.length ? highlight(current < 0 ? 0 : current - 1) : go("a[data-queue-prev]");
        break;
      case "a":
        handled = focusInto(document.querySelector("#approve-form button[type=submit]"));
        break;
      case "r":
        handled = focusInto(document.getElementById("return_reason"));
        break;
      case "s":
        handled = focusInto(document.getElementById("score_points"));
        break;
      case "v":
        handled = openNextEvidence();
        break;
      case "?":
        handled = openHelp();
        break;
      default:
        return;
    }
    // The key was a shortcut: it must not also be typed into the field it focused.
    if (handled) event.preventDefault();
  });
})();
