// Error pages: "Tillbaka" goes back in the browser's history (keeping what was typed in
// a form); without JavaScript, or with no history, the link's own address is used.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.history-back") : null;
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
