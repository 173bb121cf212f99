// Live updates (kontaktcenter/live): listens to /live/stream and, when a notice arrives,
// fetches this page again and swaps each region marked data-live-region (by id), keeping
// focus and scroll, and says so politely through the #live-announce region; it never moves
// focus. A region with a form being edited waits until the user is done. Without
// JavaScript the page has a refresh link instead (templates/live/_live.html).
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var announceBox = document.getElementById("live-announce");
  var topics = root.getAttribute("data-live-topics") || "";
  var popUrl = root.getAttribute("data-live-pop");
  var minGap = 1000;
  var timer = null, running = false, again = false, lastRefresh = 0, stopped = false;

  function announce(text) {
    if (!announceBox || !text) { return; }
    // Emptied first, so the same words are announced again.
    announceBox.textContent = "";
    window.setTimeout(function () { announceBox.textContent = text; }, 50);
  }

  function editing(region) {
    var active = document.activeElement;
    if (active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) { return true; }
    var fields = region.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden") { continue; }
      if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) { return true; }
        }
      } else if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.value !== f.defaultValue) { return true; }
    }
    return false;
  }

  function focusKey(el) {
    if (!el || el === document.body) { return null; }
    if (el.id) { return {id: el.id}; }
    var text = (el.textContent || "").trim();
    return {tag: el.tagName, href: el.getAttribute("href"), name: el.getAttribute("name"), value: el.getAttribute("value"), text: text};
  }

  function refocus(region, key) {
    if (!key) { return; }
    var found = key.id ? document.getElementById(key.id) : null;
    if (!found) {
      var candidates = region.querySelectorAll(key.tag);
      for (var i = 0; i < candidates.length && !found; i++) {
        var c = candidates[i];
        if (c.getAttribute("href") === key.href && c.getAttribute("name") === key.name &&
            c.getAttribute("value") === key.value && (c.textContent || "").trim() === key.text) { found = c; }
      }
    }
    // Focus stays where the user had it; when that element is gone, on the region's heading-less
    // container is not forced: the browser keeps focus on the document, as after any change.
    if (found && region.contains(found)) { found.focus({preventScroll: true}); }
  }

  function swap(region, fresh) {
    if (fresh.innerHTML === region.innerHTML) { return false; }
    var active = document.activeElement;
    var hadFocus = active && region.contains(active);
    var key = hadFocus ? focusKey(active) : null;
    var x = window.scrollX, y = window.scrollY;
    region.innerHTML = fresh.innerHTML;
    if (hadFocus) { refocus(region, key); }
    window.scrollTo(x, y);
    return true;
  }

  function fetchPage(url) {
    // X-Live-Refresh: not the user's own activity, so it does not keep an idle session alive.
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html", "X-Live-Refresh": "1"}})
      .then(function (r) {
        if (!r.ok || r.redirected) { throw new Error("signed out or refused"); }
        return r.text();
      })
      .then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  function refresh() {
    if (running) { again = true; return; }
    running = true;
    lastRefresh = Date.now();
    fetchPage(window.location.href).then(function (doc) {
      var changed = false, waiting = false;
      var regions = document.querySelectorAll("[data-live-region]");
      for (var i = 0; i < regions.length; i++) {
        var region = regions[i];
        var fresh = region.id ? doc.getElementById(region.id) : null;
        if (!fresh) { continue; }
        if (editing(region)) { waiting = true; continue; }
        if (swap(region, fresh)) { changed = true; }
      }
      if (changed) { announce(root.getAttribute("data-live-updated")); }
      if (waiting) { window.setTimeout(schedule, 5000); }
    }).catch(function () { signedOut(); }).then(function () {
      running = false;
      if (again) { again = false; schedule(); }
    });
  }

  function schedule() {
    if (timer || stopped) { return; }
    // Several notices close together make one fetch.
    var wait = Math.max(150, minGap - (Date.now() - lastRefresh));
    timer = window.setTimeout(function () { timer = null; refresh(); }, wait);
  }

  function screenPop() {
    var region = document.getElementById("screen-pop");
    if (!popUrl || !region) { return; }
    fetchPage(popUrl).then(function (doc) {
      var fresh = doc.getElementById("screen-pop");
      if (fresh && swap(region, fresh)) { announce(root.getAttribute("data-live-connected-call")); }
    }).catch(function () {});
  }

  var source = null;
  function signedOut() {
    if (stopped) { return; }
    stopped = true;
    if (source) { source.close(); }
    announce(root.getAttribute("data-live-signed-out"));
  }

  source = new EventSource(root.getAttribute("data-live-src") + "?topics=" + encodeURIComponent(topics));
  source.addEventListener("notice", function (e) {
    var notice = {};
    try { notice = JSON.parse(e.data); } catch (err) { return; }
    if (notice.kind === "call.connected") { screenPop(); }
    schedule();
  });
  source.addEventListener("reset", function () { schedule(); screenPop(); });
  source.addEventListener("unavailable", function () {
    // This server sends no live updates (the proxy does not route the stream to its own
    // processes): stop listening and offer the refresh link, as without JavaScript.
    stopped = true;
    source.close();
    var off = document.getElementById("live-off");
    if (off) { off.hidden = false; }
    document.documentElement.setAttribute("data-live", "off");
  });
  // The session ended elsewhere (signed out, new password, account disabled): stop listening.
  source.addEventListener("signed-out", signedOut);
  source.addEventListener("error", function () {
    // The stream ended (its lifetime) and the browser reconnects by itself; CLOSED means it
    // was refused (signed out), and it will not.
    if (source.readyState === EventSource.CLOSED) { signedOut(); }
  });
  if (popUrl) { screenPop(); }  // a call connected before this page was opened
  document.documentElement.setAttribute("data-live", "on");
})();
