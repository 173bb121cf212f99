// A report export's progress page: polls the job's status (the URL and the texts come
// in data- attributes of #export-status) until it is done or failed. Without
// JavaScript the page has a link that reloads it.
(function () {
  "use strict";
  var box = document.getElementById("export-status");
  if (!box) { return; }
  var bar = document.getElementById("export-progress");
  var percent = document.getElementById("export-percent");
  var state = document.getElementById("export-state");
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (s) {
        bar.value = s.percent;
        bar.textContent = percent.textContent = s.percent + " %";
        if (s.state === "done" || s.state === "failed") {
          state.textContent = box.dataset["text" + (s.state === "done" ? "Done" : "Failed")] +
            (s.rows !== null ? " (" + s.rows + " " + box.dataset.textRows + ")" : "");
          document.getElementById("export-refresh").hidden = true;
          document.getElementById("export-download").hidden = s.state !== "done";
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
