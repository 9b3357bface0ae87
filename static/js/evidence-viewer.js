/* The evidence viewer and the gallery's preview placeholders (includes/evidence_list.html,
 * includes/evidence_viewer.html).
 *
 * Hook for keyboard shortcuts elsewhere (the review page's "open the next evidence file"):
 *   window.EvidenceViewer.openNext()  opens the next file of the page's first gallery (the
 *                                     first file the first time; the next one if the viewer
 *                                     is open); returns false when there is none.
 *   window.EvidenceViewer.open(el)    opens the file of a `.evidence__item` (or an element in it).
 *   window.EvidenceViewer.close(), window.EvidenceViewer.isOpen()
 *   document.dispatchEvent(new CustomEvent("evidence:open-next"))  does what openNext() does.
 * While the viewer is open it keeps the keyboard: ←/→ previous/next file, + / − zoom, 0 fit,
 * R rotate, Esc close; so shortcuts elsewhere should ignore keys when isOpen() is true.
 *
 * The viewer is a modal <dialog>: the page behind it is inert, Tab cycles through its buttons,
 * and closing returns the focus to the link that opened it. A PDF's pages are images made on
 * the server (tasks/previews.py), shown one under the other and loaded lazily as they scroll
 * into view. Pinch-zoom on a phone is the browser's own.
 */
(function () {
  "use strict";

  var POLL_MS = 2500;
  var POLL_TRIES = 48; // two minutes; then the download stays the way to look
  var ZOOM_STEPS = [0.5, 0.75, 1, 1.5, 2, 3, 4];
  var PAGE_MAX_FIT = 960;

  var dialog, stage, title, count, note, download;
  var current = { items: [], index: -1, zoom: 2, rotate: 0, data: null, opener: null, token: 0 };
  var lastOpened = null;

  function label(name, values) {
    var text = dialog.getAttribute("data-label-" + name) || "";
    Object.keys(values || {}).forEach(function (key) {
      text = text.split("{" + key + "}").join(String(values[key]));
    });
    return text;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  /* ---- the gallery: placeholders that turn into thumbnails ---------------------------- */

  function showReady(item, data) {
    item.setAttribute("data-state", data.state);
    item.className = item.className.replace(/evidence__item--\w+/, "evidence__item--" + data.state);
    var link = item.querySelector(".evidence__open");
    var box = item.querySelector(".evidence__thumb");
    if (data.state === "ready" && box) {
      box.textContent = "";
      var img = document.createElement("img");
      img.src = data.thumb;
      img.alt = "";
      img.decoding = "async";
      box.appendChild(img);
      if (link && data.pages.length) { link.href = data.pages[0].url; }
    } else if (data.state === "failed" && box) {
      box.textContent = data.type || "?";
      box.classList.add("evidence__thumb--type");
    }
  }

  function poll(item, tries) {
    getJSON(item.getAttribute("data-status-url")).then(function (data) {
      if (data.state === "pending") {
        if (tries > 0) { window.setTimeout(function () { poll(item, tries - 1); }, POLL_MS); }
        return;
      }
      showReady(item, data);
    }).catch(function () { /* the download link still works */ });
  }

  function watchPending() {
    var pending = document.querySelectorAll('.evidence__item[data-state="pending"]');
    Array.prototype.forEach.call(pending, function (item) {
      window.setTimeout(function () { poll(item, POLL_TRIES); }, POLL_MS);
    });
  }

  /* ---- the viewer --------------------------------------------------------------------- */

  function openable(list) {
    return Array.prototype.filter.call(list.querySelectorAll(".evidence__item"), function (item) {
      return item.querySelector(".evidence__open");
    });
  }

  function isOpen() { return !!(dialog && dialog.open); }

  function setButtons() {
    dialog.querySelector('[data-viewer="prev"]').disabled = current.index <= 0;
    dialog.querySelector('[data-viewer="next"]').disabled = current.index >= current.items.length - 1;
  }

  function fitWidth(page) {
    // The width of a page at zoom 1: the stage's width; an image alone also fits its height.
    var width = stage.clientWidth - 16;
    var rotated = current.rotate % 180 !== 0;
    var ratio = rotated ? page.height / page.width : page.width / page.height;
    if (current.data && current.data.pages.length === 1) {
      width = Math.min(width, (stage.clientHeight - 16) * ratio);
    } else {
      width = Math.min(width, PAGE_MAX_FIT); // a document page: fit the width, readable, not huge
    }
    return Math.max(80, Math.min(width, rotated ? page.height : page.width) * ZOOM_STEPS[current.zoom] / ZOOM_STEPS[2]);
  }

  function layout() {
    if (!current.data) { return; }
    var rotated = current.rotate % 180 !== 0;
    Array.prototype.forEach.call(stage.querySelectorAll(".viewer__page"), function (box) {
      var page = { width: +box.getAttribute("data-width"), height: +box.getAttribute("data-height") };
      var img = box.firstChild;
      box.style.width = Math.round(fitWidth(page)) + "px";
      box.style.aspectRatio = rotated ? page.height + " / " + page.width : page.width + " / " + page.height;
      img.style.width = rotated ? (100 * page.width / page.height) + "%" : "100%";
      img.style.transform = "translate(-50%, -50%) rotate(" + current.rotate + "deg)";
    });
    dialog.classList.toggle("viewer--zoomed", current.zoom > 2);
  }

  function render(data) {
    current.data = data;
    stage.textContent = "";
    note.textContent = "";
    note.hidden = true;
    if (data.state !== "ready") {
      note.textContent = label(data.state === "pending" ? "pending" : "failed");
      note.hidden = false;
      current.data = null;
      return;
    }
    if (data.page_count && data.page_count > data.pages.length) {
      note.textContent = label("capped", { shown: data.pages.length, total: data.page_count });
      note.hidden = false;
    }
    data.pages.forEach(function (page, i) {
      var box = document.createElement("figure");
      box.className = "viewer__page";
      box.setAttribute("data-width", page.width);
      box.setAttribute("data-height", page.height);
      var img = document.createElement("img");
      img.loading = i === 0 ? "eager" : "lazy";
      img.decoding = "async";
      img.src = page.url;
      img.width = page.width;
      img.height = page.height;
      img.alt = data.pages.length > 1 ? label("page", { page: page.page, total: data.pages.length }) : data.name;
      box.appendChild(img);
      stage.appendChild(box);
    });
    layout();
  }

  function load(index) {
    var item = current.items[index];
    if (!item) { return false; }
    current.index = index;
    current.rotate = 0;
    current.zoom = 2;
    lastOpened = item;
    var token = ++current.token;
    var name = item.querySelector(".evidence__name");
    title.textContent = name ? name.textContent : "";
    count.textContent = current.items.length > 1 ? label("file", { index: index + 1, total: current.items.length }) : "";
    download.href = item.querySelector(".evidence__download").href;
    stage.textContent = "";
    stage.scrollTop = 0;
    setButtons();
    var tries = POLL_TRIES;
    function fetchStatus() {
      getJSON(item.getAttribute("data-status-url")).then(function (data) {
        if (token !== current.token) { return; }
        render(data);
        if (data.state === "pending" && tries-- > 0) {
          window.setTimeout(function () { if (token === current.token && isOpen()) { fetchStatus(); } }, POLL_MS);
        } else if (data.state !== "pending") {
          showReady(item, data);
        }
      }).catch(function () {
        if (token === current.token) { render({ state: "failed", pages: [] }); }
      });
    }
    fetchStatus();
    return true;
  }

  function open(element, opener) {
    var item = element.closest(".evidence__item");
    var list = item && item.closest(".evidence");
    if (!item || !list || !dialog) { return false; }
    current.items = openable(list);
    var index = current.items.indexOf(item);
    if (index < 0) { return false; }
    if (!isOpen()) {
      current.opener = opener || item.querySelector(".evidence__open") || document.activeElement;
      dialog.showModal();
    }
    load(index);
    stage.focus();
    return true;
  }

  function close() {
    if (isOpen()) { dialog.close(); }
  }

  function openNext() {
    if (isOpen()) { return load(current.index + 1); }
    var list = document.querySelector(".evidence");
    if (!list) { return false; }
    var items = openable(list);
    var index = lastOpened ? items.indexOf(lastOpened) + 1 : 0;
    if (index >= items.length || index < 0) { index = 0; }
    return items.length ? open(items[index]) : false;
  }

  function zoom(step) {
    current.zoom = step === 0 ? 2 : Math.max(0, Math.min(ZOOM_STEPS.length - 1, current.zoom + step));
    layout();
  }

  function rotate() {
    current.rotate = (current.rotate + 90) % 360;
    layout();
  }

  function trapTab(event) {
    var focusable = Array.prototype.filter.call(
      dialog.querySelectorAll("button:not([disabled]), a[href], [tabindex='0']"),
      function (el) { return el.offsetParent !== null; }
    );
    if (!focusable.length) { return; }
    var first = focusable[0], last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) { last.focus(); event.preventDefault(); }
    else if (!event.shiftKey && document.activeElement === last) { first.focus(); event.preventDefault(); }
  }

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    switch (event.key) {
      case "ArrowLeft": load(current.index - 1); break;
      case "ArrowRight": load(current.index + 1); break;
      case "+": case "=": zoom(1); break;
      case "-": case "_": zoom(-1); break;
      case "0": zoom(0); break;
      case "r": case "R": rotate(); break;
      case "Tab": trapTab(event); return;
      default: return;
    }
    event.preventDefault();
    event.stopPropagation();
  }

  function onToolClick(event) {
    var button = event.target.closest("[data-viewer]");
    if (!button || button.disabled) { return; }
    switch (button.getAttribute("data-viewer")) {
      case "prev": load(current.index - 1); break;
      case "next": load(current.index + 1); break;
      case "zoom-in": zoom(1); break;
      case "zoom-out": zoom(-1); break;
      case "fit": zoom(0); break;
      case "rotate": rotate(); break;
      case "close": close(); break;
      default: return; // the download link follows its href
    }
    event.preventDefault();
  }

  function init() {
    dialog = document.getElementById("evidence-viewer");
    watchPending();
    if (!dialog || typeof dialog.showModal !== "function") { return; } // the links open the page image
    stage = dialog.querySelector(".viewer__stage");
    title = dialog.querySelector(".viewer__title");
    count = dialog.querySelector(".viewer__count");
    note = dialog.querySelector(".viewer__note");
    download = dialog.querySelector('[data-viewer="download"]');
    note.hidden = true;

    document.addEventListener("click", function (event) {
      var link = event.target.closest("a.evidence__open");
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
      if (open(link, link)) { event.preventDefault(); }
    });
    dialog.addEventListener("click", onToolClick);
    dialog.addEventListener("keydown", onKey);
    dialog.addEventListener("close", function () {
      current.token++;
      stage.textContent = "";
      current.data = null;
      var opener = current.opener;
      current.opener = null;
      if (opener && document.contains(opener)) { opener.focus(); }
    });
    window.addEventListener("resize", layout);
    document.addEventListener("evidence:open-next", openNext);
  }

  window.EvidenceViewer = { open: open, openNext: openNext, close: close, isOpen: isOpen };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
