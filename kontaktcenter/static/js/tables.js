// A data table too wide for a narrow screen scrolls inside its own box (style.css). The
// keyboard must reach it to scroll it (WCAG 2.1.1): such a table becomes a focusable,
// named region; when it fits again it leaves the tab order.
(function () {
  "use strict";
  function update() {
    document.querySelectorAll("main table").forEach(function (table) {
      if (table.closest(".table-scroll")) { return; }
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.setAttribute("data-scrolls", "");
        var caption = table.querySelector("caption");
        if (caption) {
          if (!caption.id) { caption.id = "table-caption-" + Math.random().toString(36).slice(2); }
          table.setAttribute("aria-labelledby", caption.id);
        }
      } else if (!scrolls && table.hasAttribute("data-scrolls")) {
        table.removeAttribute("tabindex");
        table.removeAttribute("data-scrolls");
      }
    });
  }
  window.addEventListener("resize", update);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", update); } else { update(); }
})();
