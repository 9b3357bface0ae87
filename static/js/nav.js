/* The header's 菜单 button on phones (templates/base.html, portal.css section "Phones").
 *
 * Loaded in <head> without defer: it marks <html> with the class "js" before the first paint,
 * so the CSS folds the navigation and the account links on narrow screens only when this
 * script is there to unfold them (without JavaScript the header simply stays open).
 * The button toggles aria-expanded and the class "topbar--open"; Escape closes the menu and
 * gives the focus back to the button.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function setUp() {
    var header = document.querySelector(".topbar");
    var button = header && header.querySelector(".menu-button");
    if (!button) { return; }
    button.hidden = false;

    function setOpen(open) {
      header.classList.toggle("topbar--open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }

    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        button.focus();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
