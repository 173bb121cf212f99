// The walk-in display ("Nu betjänas"). Progressive enhancement: the page works without
// it; with it, the numbers refresh every 15 seconds.
(function () {
  "use strict";
  window.setInterval(function () {
    fetch(window.location.href, {headers: {"Accept": "text/html"}})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("now-serving");
        var current = document.getElementById("now-serving");
        if (fresh && current && fresh.innerHTML !== current.innerHTML) { current.innerHTML = fresh.innerHTML; }
      })
      .catch(function () {});
  }, 15000);
})();
