// The receipt's print button (a script file: the security policy allows no inline script).
// Without JavaScript the button stays hidden and the browser's own print works the same.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
